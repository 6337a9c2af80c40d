/**
 * The app's user type, declared once for every adapter (after lucia's `Register` and passport's
 * `Express.User`):
 *
 * ```ts
 * declare module 'redis-multitokens' {
 *   interface Register {
 *     user: { id: string; name: string };
 *   }
 * }
 * ```
 *
 * After that, `TokenAuth['user']` (so `req.auth.user` in Express, `request.auth.user` in Fastify,
 * `ctx.state.auth.user` in Koa, `c.get('auth').user` in Hono and the NestJS decorators) is that type,
 * and every adapter's `loadUser` must return it. Give a `loadUser` whenever you register a user: without
 * one, `user` is only `{ id: userId }`.
 * @packageDocumentation
 */

/** Augment this interface with `user: YourUser` (see the module comment). Empty by default. */
// biome-ignore lint/suspicious/noEmptyInterface: apps add `user` by declaration merging, which needs an interface.
export interface Register {}

/** The user type declared in {@link Register} (`Register['user']`), or `unknown` when none is declared. */
export type RegisteredUser = Register extends {
  /** The app's user type, as declared in {@link Register}. */
  user: infer U;
}
  ? U
  : unknown;
