/** Variants "Express/Fastify, ours with the local verify cache": the cache is not built yet, so they are listed, not measured. */
export const notBuilt = ['express-ours-cache', 'fastify-ours-cache'].map((name) => ({
  name,
  reason: 'not built yet (issue 9: the optional local verify cache)',
}));
