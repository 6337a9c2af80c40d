/**
 * The one `Register` declaration of the typed-user type tests. Module augmentation is global to a
 * TypeScript program, so these tests are their own program (./tsconfig.json), apart from `tsc -p .`.
 */
export interface AppUser {
  id: string;
  name: string;
}

declare module 'redis-multitokens' {
  interface Register {
    user: AppUser;
  }
}
