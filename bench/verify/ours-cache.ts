/**
 * Variant: our verify with the local verify cache on (issue 9, part 3). The cache is not built yet:
 * the runner lists this variant as such and measures nothing for it.
 */
export const notBuilt = {
  name: 'ours-cache',
  title: 'our verify with the local verify cache',
  reason: 'not built yet (issue 9: the optional local verify cache)',
};
