/** An HTTP variant: an app serving `GET /me` (JSON `{ userId }`) behind one kind of authentication, started in a child process. */
export interface StartedApp {
  port: number;
  /** Headers every benchmark request carries (the credential). */
  headers: Record<string, string>;
  close(): Promise<void>;
}

export interface HttpVariant {
  name: string;
  title: string;
  start(redisUrl: string): Promise<StartedApp>;
}

/** The user every variant authenticates. */
export const HTTP_USER = 'http-bench-user';
export const HTTP_SECRET = 'http-bench-secret-http-bench-secret-0123456';
