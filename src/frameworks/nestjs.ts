/**
 * `redis-multitokens/nestjs`: a NestJS 11 module, guard, decorators and exception filter, on the
 * Express and the Fastify platform alike.
 *
 * ```ts
 * @Module({
 *   imports: [TokenAuthModule.forRoot({ manager: tokens, loadUser })],
 *   providers: [{ provide: APP_GUARD, useClass: TokenAuthGuard }, { provide: APP_FILTER, useClass: TokenErrorFilter }],
 * })
 * class AppModule {}
 * // in a controller:  @Get('me') me(@CurrentUser() user: CurrentUser) { return user; }
 * ```
 *
 * The classes here declare every injection explicitly (`@Inject(token)`) and use no decorator syntax
 * themselves, so they work whether or not the app compiles with `emitDecoratorMetadata`. The package
 * does not import `reflect-metadata`: `@nestjs/common` does, and the app imports it first as every Nest
 * app does.
 * @packageDocumentation
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import {
  Catch,
  HttpException,
  Inject,
  Injectable,
  Logger,
  Module,
  Optional,
  SetMetadata,
  createParamDecorator,
  type ArgumentsHost,
  type CanActivate,
  type CustomDecorator,
  type DynamicModule,
  type ExecutionContext,
  type FactoryProvider,
  type HttpServer,
  type ModuleMetadata,
} from '@nestjs/common';
import { BaseExceptionFilter, HttpAdapterHost, Reflector } from '@nestjs/core';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../core/errors.js';
import type { TokenManager } from '../core/manager.js';
import type { RegisteredUser } from '../core/register.js';
import { authenticate, checkAuthOptions, type AuthOptions, type TokenAuth } from '../http/authenticate.js';
import { authorizationOfRawHeaders } from '../http/authorization.js';
import { deviceDetails, type DeviceDetails } from '../http/client.js';
import { dpopHeaderValue, dpopKeyOf, type DpopOptions, type DpopReader } from '../http/dpop.js';
import {
  ERROR_BODY_CONTENT_TYPE,
  applyErrorBody,
  checkErrorHandlerOptions,
  errorBodyJson,
  errorResponse,
  type ErrorBodyFormatter,
  type HttpErrorResponse,
} from '../http/responses.js';
import { checkScopeList, checkScopes } from '../http/scopes.js';
import { checkStepUp, checkStepUpRule, type StepUpRule } from '../http/step-up.js';

export type { AuthOptions, TokenAuth } from '../http/authenticate.js';
export type { AuthErrorResponse, HttpErrorResponse, ErrorBodyFormatter } from '../http/responses.js';
export type { DeviceDetails } from '../http/client.js';
export type { StepUpRule } from '../http/step-up.js';

/** Injection token of the app's TokenManager: `constructor(@Inject(TOKEN_MANAGER) tokens: TokenManager)`. */
export const TOKEN_MANAGER = 'redis-multitokens:TokenManager';
/** Injection token of the module's checked options ({@link TokenAuthModuleOptions}). */
export const TOKEN_AUTH_OPTIONS = 'redis-multitokens:TokenAuthOptions';
/** Reflector metadata keys of {@link Public}, {@link OptionalAuth} and {@link RequireScopes}. */
export const IS_PUBLIC_KEY = 'redis-multitokens:public';
/** Reflector metadata key of {@link OptionalAuth}. */
export const OPTIONAL_AUTH_KEY = 'redis-multitokens:optional';
/** Reflector metadata key of {@link RequireScopes}. */
export const REQUIRED_SCOPES_KEY = 'redis-multitokens:scopes';
/** Reflector metadata key of {@link RequireStepUp}. */
export const REQUIRED_STEP_UP_KEY = 'redis-multitokens:step-up';

/** Where the guard keeps a request's authentication: a registry symbol, shared by every copy of the package. */
const AUTH = Symbol.for('redis-multitokens.nestjs.auth');

/** Options of {@link TokenAuthModule.forRoot} (and what the `forRootAsync` factory returns). */
export interface TokenAuthModuleOptions<User extends RegisteredUser = RegisteredUser> {
  /** The app's TokenManager. The module never closes it: whoever made it closes it (after `app.close()`). */
  manager: TokenManager;
  /** Turns a user id into the app's user; null, undefined or false gives 401 `user_not_found`. See `AuthOptions.loadUser`. */
  loadUser?: AuthOptions<User>['loadUser'];
  /** The `realm` of `WWW-Authenticate` challenges, for the guard and `@RequireScopes` (default `"api"`). */
  realm?: string;
  /** Replaces the JSON body of the guard's refusals (401, 403, 503); status and headers stay. */
  errorBody?: ErrorBodyFormatter;
  /** DPoP (RFC 9449) settings of the guard: `origin` behind a proxy, `algorithms`, `proofWindowSeconds`. See `AuthOptions.dpop`. */
  dpop?: DpopOptions;
}

/** Options of {@link TokenAuthModule.forRootAsync}: a factory (with its `inject` and `imports`) for the options. */
export interface TokenAuthModuleAsyncOptions<User extends RegisteredUser = RegisteredUser>
  extends Pick<ModuleMetadata, 'imports'> {
  /** Called with the instances of `inject`, in order (Nest's own `FactoryProvider` type). */
  useFactory: FactoryProvider<TokenAuthModuleOptions<User>>['useFactory'];
  /** Providers whose instances are passed to `useFactory`, in order. */
  inject?: FactoryProvider['inject'];
  /** Make the providers visible in every module (default true). */
  global?: boolean;
}

/** The request shapes the guard and `deviceFromRequest` read: Express's `Request` and Fastify's `FastifyRequest`. */
export interface NestHttpRequest {
  /** The request headers, as Node parsed them. */
  headers: IncomingHttpHeaders;
  /** The client address after the platform's trust-proxy setting (Express `trust proxy`, Fastify `trustProxy`). */
  ip?: string;
  /** Fastify: the Node request. */
  raw?: IncomingMessage;
  /** Express: the headers as sent, name and value alternating (every `Authorization` header is read from here). */
  rawHeaders?: string[];
  /** Express and Fastify: `http` or `https`, after the platform's trust-proxy setting. */
  protocol?: string;
  /** Express and Fastify: the method. */
  method?: string;
  /** Express: the request target as received. */
  originalUrl?: string;
  /** Fastify: the request target as received. */
  url?: string;
}

/** What the DPoP check reads off an Express or Fastify request under Nest. */
const DPOP_READER: DpopReader<NestHttpRequest> = {
  proof: (request) => dpopHeaderValue(request.headers.dpop),
  method: (request) => request.method ?? request.raw?.method ?? '',
  origin: (request) => `${request.protocol ?? 'http'}://${request.headers.host ?? ''}`,
  path: (request) => request.originalUrl ?? request.url ?? request.raw?.url ?? '/',
};

/**
 * The DPoP key (RFC 9449) a login request proves it holds, for
 * `manager.create(userId, { ...deviceFromRequest(req), jkt: await dpopKeyFromRequest(req) })`: the JWK
 * thumbprint of the key that signed the request's `DPoP` proof (checked: signature, `typ`, `alg`,
 * `htm`, `htu`, `iat`), or null when the request has no `DPoP` header (a bearer token then).
 * @throws {InvalidDpopProofError} a `DPoP` header that fails a check: `TokenErrorFilter` answers 400 `invalid_dpop_proof`.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad options.
 */
export function dpopKeyFromRequest(request: NestHttpRequest, options?: DpopOptions): Promise<string | null> {
  return dpopKeyOf(request, DPOP_READER, options);
}

function checkModuleOptions<User extends RegisteredUser>(
  options: TokenAuthModuleOptions<User>,
  where: string,
): TokenAuthModuleOptions<User> {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentTypeError(
      `TokenAuthModule.${where}: the options must be an object, e.g. { manager: tokens }`,
    );
  const { manager, global: _global, ...auth } = options as TokenAuthModuleOptions<User> & { global?: unknown };
  if (where !== 'forRoot' && _global !== undefined)
    throw new InvalidArgumentValueError(
      'TokenAuthModule.forRootAsync: put `global` beside useFactory, not in what it returns',
    );
  if (_global !== undefined && typeof _global !== 'boolean')
    throw new InvalidArgumentTypeError('TokenAuthModule.forRoot: `global` must be a boolean');
  for (const key of ['optional', 'scopes'])
    if (key in auth)
      throw new InvalidArgumentValueError(
        `TokenAuthModule.${where}: \`${key}\` is set per route: use @OptionalAuth() or @RequireScopes(...)`,
      );
  if (!manager || typeof (manager as { verify?: unknown }).verify !== 'function')
    throw new InvalidArgumentTypeError(`TokenAuthModule.${where}: the \`manager\` option must be the TokenManager`);
  const { loadUser, realm, errorBody, dpop } = checkAuthOptions(manager, auth as AuthOptions<User>);
  return { manager, loadUser, realm, errorBody, dpop };
}

/**
 * The module: provides the TokenManager ({@link TOKEN_MANAGER}), the options and {@link TokenAuthGuard}.
 * Global by default (one token manager per app; the guard is then usable in every module). Import it
 * once, in the root module. It adds no listener and opens nothing, so `app.close()` leaves the manager
 * as the app handed it in.
 */
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest dynamic module is a class with static forRoot/forRootAsync.
export class TokenAuthModule {
  /** @throws {InvalidArgumentTypeError | InvalidArgumentValueError} a bad option, named in the message. */
  static forRoot<User extends RegisteredUser = RegisteredUser>(
    options: TokenAuthModuleOptions<User> & { global?: boolean },
  ): DynamicModule {
    const checked = checkModuleOptions(options, 'forRoot');
    return moduleOf(options.global ?? true, { provide: TOKEN_AUTH_OPTIONS, useValue: checked }, []);
  }

  /** The options from a factory (e.g. one that reads ConfigService). Bad options make the app's start-up fail, naming the option. */
  static forRootAsync<User extends RegisteredUser = RegisteredUser>(
    options: TokenAuthModuleAsyncOptions<User>,
  ): DynamicModule {
    if (options === null || typeof options !== 'object' || typeof options.useFactory !== 'function')
      throw new InvalidArgumentTypeError(
        'TokenAuthModule.forRootAsync: give { useFactory, inject?, imports?, global? }',
      );
    const unknown = Object.keys(options).filter((k) => !['useFactory', 'inject', 'imports', 'global'].includes(k));
    if (unknown.length > 0)
      throw new InvalidArgumentValueError(
        `TokenAuthModule.forRootAsync: unknown option ${unknown.join(', ')} (only useFactory, inject, imports, global)`,
      );
    if (options.global !== undefined && typeof options.global !== 'boolean')
      throw new InvalidArgumentTypeError('TokenAuthModule.forRootAsync: `global` must be a boolean');
    const { useFactory } = options;
    return moduleOf(
      options.global ?? true,
      {
        provide: TOKEN_AUTH_OPTIONS,
        useFactory: async (...args: unknown[]) => checkModuleOptions(await useFactory(...args), 'forRootAsync'),
        inject: options.inject ?? [],
      },
      options.imports ?? [],
    );
  }
}
Module({})(TokenAuthModule);

function moduleOf(
  global: boolean,
  optionsProvider: NonNullable<DynamicModule['providers']>[number],
  imports: NonNullable<ModuleMetadata['imports']>,
): DynamicModule {
  const managerProvider = {
    provide: TOKEN_MANAGER,
    useFactory: (o: TokenAuthModuleOptions) => o.manager,
    inject: [TOKEN_AUTH_OPTIONS],
  };
  return {
    module: TokenAuthModule,
    global,
    imports,
    providers: [optionsProvider, managerProvider, TokenAuthGuard],
    exports: [TOKEN_AUTH_OPTIONS, TOKEN_MANAGER, TokenAuthGuard],
  };
}

/** Lets every request of this route (or controller) through without authentication; `@CurrentAuth()` gives null. */
export const Public = (): CustomDecorator => SetMetadata(IS_PUBLIC_KEY, true);

/** Anonymous requests pass (`@CurrentAuth()` gives null); a bad Authorization header still gets 401. Ignored with `@RequireScopes`. */
export const OptionalAuth = (): CustomDecorator => SetMetadata(OPTIONAL_AUTH_KEY, true);

/**
 * Requires every scope listed (on a controller, a route, or both: the lists add up): a token lacking one
 * gets 403 `insufficient_scope` in the module's realm; an anonymous request 401 (also with `@OptionalAuth`).
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} no scope or a bad one, when the class is defined.
 */
export const RequireScopes = (...scopes: (string | readonly string[])[]): CustomDecorator => {
  const required = checkScopeList(scopes.flat());
  if (required.length === 0) throw new InvalidArgumentValueError('@RequireScopes needs at least one scope');
  return SetMetadata(REQUIRED_SCOPES_KEY, required);
};

/**
 * Step-up for a sensitive route or controller (RFC 9470): the token's user must have proved who they
 * are within `maxAgeSeconds` seconds (at login, or by `manager.reauthenticate`) and/or with one of the
 * `acr` levels, else 401 `insufficient_user_authentication` with `max_age` / `acr_values` in
 * `WWW-Authenticate`, in the module's realm; an anonymous request 401 (also with `@OptionalAuth`).
 * A route's requirement replaces its controller's. No store call beyond the guard's verify.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} a bad requirement, when the class is defined.
 */
export const RequireStepUp = (options: { maxAgeSeconds?: number; acr?: string | readonly string[] }): CustomDecorator =>
  SetMetadata(REQUIRED_STEP_UP_KEY, checkStepUpRule('@RequireStepUp', options));

/**
 * A body as an HttpException's response: an object or array as it is; any other JSON value (a string,
 * number, boolean or null that `errorBody` returned) in an object that serialises to it (`toJSON`), so
 * Nest's filters send it as that JSON value instead of wrapping it in `{ statusCode, message }`.
 */
function exceptionResponse(body: unknown): object {
  if (typeof body === 'object' && body !== null) return body;
  return Object.defineProperty({}, 'toJSON', { value: () => body, enumerable: false });
}

/**
 * The HttpException the guard throws for a refusal: status 401, 403 or 503, the library's JSON body (or
 * the one `errorBody` made) as its response, and `headers` (`WWW-Authenticate`, `Cache-Control`,
 * `Retry-After`). The guard has already set those headers on the response, so Nest's own exception
 * filter (or the app's) answers with them too, and with the body as JSON: `getResponse()` is the body
 * when it is an object or array; a string, number, boolean or null body is wrapped in an object whose
 * `toJSON()` gives it, so Nest sends `"denied"` (not `{"statusCode":401,"message":"denied"}`). Read
 * `refusal.body` for the body itself.
 */
export class TokenAuthException extends HttpException {
  /** The answer: status, headers and body as `errorBody` made it. */
  readonly refusal: Readonly<HttpErrorResponse>;
  constructor(refusal: HttpErrorResponse) {
    super(exceptionResponse(refusal.body) as Record<string, unknown>, refusal.status);
    this.refusal = { status: refusal.status, headers: { ...refusal.headers }, body: refusal.body };
  }
}
Object.defineProperty(TokenAuthException.prototype, Symbol.for('redis-multitokens.nestjs.refusal'), { value: true });

/** True for a {@link TokenAuthException} from any copy of the package. */
const isRefusal = (e: unknown): e is TokenAuthException =>
  typeof e === 'object' &&
  e !== null &&
  (e as Record<symbol, unknown>)[Symbol.for('redis-multitokens.nestjs.refusal')] === true;

/** Sets headers through Nest's HTTP adapter, or directly (Express `res.header`, Fastify `reply.header`). */
function setHeaders(
  adapter: HttpServer | undefined,
  response: unknown,
  headers: Readonly<Record<string, string>>,
): void {
  for (const [name, value] of Object.entries(headers))
    if (adapter) adapter.setHeader(response, name, value);
    else (response as { header(name: string, value: string): void }).header(name, value);
}

/**
 * The guard: authenticates `Authorization: Bearer <token>` (or `Token <token>`) on HTTP routes, honouring
 * `@Public()`, `@OptionalAuth()`, `@RequireScopes()` and `@RequireStepUp()`. Use it for the whole app
 * (`{ provide: APP_GUARD, useClass: TokenAuthGuard }`) or per controller or route (`@UseGuards(TokenAuthGuard)`).
 * A refusal throws {@link TokenAuthException}: 401 for a missing, malformed, invalid, expired or revoked
 * token or an unknown user, 403 for a missing scope, 503 + `Retry-After` while the store is down.
 * Errors thrown by `loadUser` go to Nest's exception filters. Other execution contexts (GraphQL, RPC,
 * WebSocket) are refused with an error rather than let through.
 */
export class TokenAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly options: TokenAuthModuleOptions,
    private readonly adapterHost?: HttpAdapterHost,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http')
      throw new Error(`TokenAuthGuard guards HTTP routes only, not ${context.getType()} handlers`);
    const targets = [context.getHandler(), context.getClass()];
    const request = context.switchToHttp().getRequest<NestHttpRequest & { [AUTH]?: TokenAuth | null }>();
    if (this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC_KEY, targets)) {
      request[AUTH] ??= null;
      return true;
    }
    const scopes = [...new Set(this.reflector.getAllAndMerge<string[]>(REQUIRED_SCOPES_KEY, targets) ?? [])];
    const stepUp = this.reflector.getAllAndOverride<StepUpRule | undefined>(REQUIRED_STEP_UP_KEY, targets);
    const optional =
      scopes.length === 0 &&
      !stepUp &&
      this.reflector.getAllAndOverride<boolean | undefined>(OPTIONAL_AUTH_KEY, targets) === true;
    const { manager, loadUser, realm, errorBody, dpop } = this.options;
    let refused: HttpErrorResponse | null = null;
    const earlier = request[AUTH];
    if (earlier) {
      // Authenticated by this guard already (global and per-controller): check this route's scopes only.
      const r = scopes.length > 0 ? checkScopes(manager, earlier.token, scopes, realm) : null;
      refused = r && applyErrorBody(r, errorBody);
    } else {
      const raw = request.raw ?? request;
      const outcome = await authenticate(
        manager,
        authorizationOfRawHeaders(raw.rawHeaders ?? []),
        { loadUser, realm, errorBody, optional, scopes, dpop },
        request,
        DPOP_READER,
      );
      if (outcome.kind === 'refused') refused = outcome.response;
      else request[AUTH] = outcome.kind === 'authenticated' ? outcome.auth : null;
    }
    const auth = request[AUTH];
    if (!refused && stepUp && auth) {
      const r = checkStepUp(manager, auth, stepUp, realm);
      refused = r && applyErrorBody(r, errorBody);
    }
    if (!refused) return true;
    setHeaders(this.adapterHost?.httpAdapter, context.switchToHttp().getResponse(), refused.headers);
    throw new TokenAuthException(refused);
  }
}
Injectable()(TokenAuthGuard);
Inject(Reflector)(TokenAuthGuard, undefined, 0);
Inject(TOKEN_AUTH_OPTIONS)(TokenAuthGuard, undefined, 1);
Optional()(TokenAuthGuard, undefined, 2);
Inject(HttpAdapterHost)(TokenAuthGuard, undefined, 2);

/**
 * The authentication {@link TokenAuthGuard} attached to a request (Express or Fastify request), for
 * middleware-free code such as interceptors: null for an anonymous request (`@OptionalAuth`, `@Public`).
 * @throws {Error} when the guard did not run for this request (it is not registered for the route).
 */
export function requestAuth<User = RegisteredUser>(request: object): TokenAuth<User> | null {
  const auth = (request as { [AUTH]?: TokenAuth<User> | null })[AUTH];
  if (auth === undefined)
    throw new Error(
      'redis-multitokens: TokenAuthGuard did not run for this route: register it with APP_GUARD or @UseGuards(TokenAuthGuard)',
    );
  return auth;
}

/**
 * Parameter decorator: the request's authentication `{ userId, user, token }`, or null on an anonymous
 * request. Type the parameter with the type of the same name: `@CurrentAuth() auth: CurrentAuth`.
 */
export const CurrentAuth: () => ParameterDecorator = createParamDecorator((_data: unknown, ctx: ExecutionContext) =>
  requestAuth(ctx.switchToHttp().getRequest()),
);
/** The type of a `@CurrentAuth()` parameter: `TokenAuth` of the app's registered user type (add `| null` on optional routes). */
export type CurrentAuth<User = RegisteredUser> = TokenAuth<User>;

/** Parameter decorator: the user `loadUser` returned (or `{ id }`), or null on an anonymous request. `@CurrentUser() user: CurrentUser`. */
export const CurrentUser: () => ParameterDecorator = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext) => requestAuth(ctx.switchToHttp().getRequest())?.user ?? null,
);
/** The type of a `@CurrentUser()` parameter: the user type declared in `Register` (add `| null` on optional routes). */
export type CurrentUser = RegisteredUser;

/**
 * Device details of a login request for `manager.create(userId, { ...deviceFromRequest(req), deviceName })`,
 * on either platform: `userAgent` from the User-Agent header and `ip` from `req.ip` (Express, honouring
 * `app.set('trust proxy', ...)`) or `request.ip` (Fastify, honouring `trustProxy`), IPv4-mapped IPv6 shown as IPv4.
 */
export function deviceFromRequest(request: NestHttpRequest): DeviceDetails {
  return deviceDetails({ userAgent: request.headers['user-agent'], ip: request.ip });
}

/** Parameter decorator: {@link deviceFromRequest} of the request (`@Device() device: DeviceDetails`). */
export const Device: () => ParameterDecorator = createParamDecorator((_data: unknown, ctx: ExecutionContext) =>
  deviceFromRequest(ctx.switchToHttp().getRequest()),
);

/** Options of {@link TokenErrorFilter} when made with `new`. */
export interface TokenErrorFilterOptions {
  /** Replaces the JSON body of the library's error answers (default: the module's `errorBody`, when injected); see `AuthOptions.errorBody`. */
  errorBody?: ErrorBodyFormatter;
}

/** Sends an answer of the library on either platform's response: status, headers, and the body as JSON text. */
function sendAnswer(adapter: HttpServer | undefined, response: unknown, answer: HttpErrorResponse): void {
  const text = errorBodyJson(answer.body);
  setHeaders(adapter, response, { ...answer.headers, 'Content-Type': ERROR_BODY_CONTENT_TYPE });
  if (adapter) return void adapter.reply(response, text, answer.status);
  const r = response as { code?(s: number): { send(b: string): void }; status(s: number): { send(b: string): void } };
  if (typeof r.code === 'function')
    r.code(answer.status).send(text); // Fastify reply
  else r.status(answer.status).send(text); // Express response
}

/**
 * Exception filter for the library's errors thrown by the app's own routes (`create`, `list`,
 * `revokeById`...: 400 bad argument, 403 token limit, 503 + `Retry-After` store outage, with the
 * library's JSON body, or the one `errorBody` makes; recognised from any copy of the package) and for the
 * guard's refusals; every other exception goes to Nest's own handling (`BaseExceptionFilter`). Register it
 * with `{ provide: APP_FILTER, useClass: TokenErrorFilter }` (it then uses the module's `errorBody`), or
 * `app.useGlobalFilters(new TokenErrorFilter(app.get(HttpAdapterHost).httpAdapter, { errorBody }))`.
 */
export class TokenErrorFilter extends BaseExceptionFilter {
  private static readonly log = new Logger('TokenErrorFilter');
  /** Set by Nest when the filter is made by injection (APP_FILTER) where the module is visible. */
  private readonly moduleOptions?: TokenAuthModuleOptions;

  /**
   * @param applicationRef Nest's HTTP adapter (`app.get(HttpAdapterHost).httpAdapter`), or undefined.
   * @param filterOptions `{ errorBody }`, checked here.
   * @throws {InvalidArgumentTypeError} an `applicationRef` that is not an HTTP adapter (e.g. the options
   *   given first), options that are not an object, an unknown option ("did you mean `errorBody`"), or
   *   an `errorBody` that is not a function.
   */
  constructor(
    applicationRef?: HttpServer,
    private readonly filterOptions: TokenErrorFilterOptions = {},
  ) {
    super(applicationRef);
    if (
      applicationRef !== undefined &&
      (applicationRef === null || typeof (applicationRef as { reply?: unknown }).reply !== 'function')
    )
      throw new InvalidArgumentTypeError(
        "TokenErrorFilter: the first argument must be Nest's HTTP adapter (app.get(HttpAdapterHost).httpAdapter) or undefined; the options come second",
      );
    this.filterOptions = checkErrorHandlerOptions<TokenErrorFilterOptions>('TokenErrorFilter options', filterOptions);
  }

  /**
   * Answers the library's errors (400, 403, 503 with `Retry-After`) as JSON on either platform; passes
   * every other exception to Nest's `BaseExceptionFilter`.
   */
  override catch(exception: unknown, host: ArgumentsHost): void {
    let answer: HttpErrorResponse | null = null;
    if (isRefusal(exception))
      answer = exception.refusal; // its body went through errorBody already
    else {
      const library = errorResponse(exception);
      if (library) answer = applyErrorBody(library, this.filterOptions.errorBody ?? this.moduleOptions?.errorBody);
    }
    const adapter = this.applicationRef ?? this.httpAdapterHost?.httpAdapter;
    if (host.getType() !== 'http' || (!answer && adapter)) {
      super.catch(exception, host);
      return;
    }
    const response = host.switchToHttp().getResponse<unknown>();
    if (adapter && answer) {
      if (adapter.isHeadersSent(response)) adapter.end(response);
      else sendAnswer(adapter, response, answer);
      return;
    }
    // Made with `new TokenErrorFilter()` and no adapter: answer as Nest would, on the response itself.
    if (answer) {
      sendAnswer(undefined, response, answer);
      return;
    }
    const http = exception instanceof HttpException;
    if (!http) TokenErrorFilter.log.error(exception);
    const status = http ? exception.getStatus() : 500;
    const nestBody = http ? exception.getResponse() : 'Internal server error';
    const body = typeof nestBody === 'object' ? nestBody : { statusCode: status, message: nestBody };
    const r = response as {
      code?(s: number): { send(b: unknown): void };
      status(s: number): { json(b: unknown): void };
    };
    if (typeof r.code === 'function')
      r.code(status).send(body); // Fastify reply
    else r.status(status).json(body); // Express response
  }
}
Catch()(TokenErrorFilter);
Optional()(TokenErrorFilter.prototype, 'moduleOptions');
Inject(TOKEN_AUTH_OPTIONS)(TokenErrorFilter.prototype, 'moduleOptions');
