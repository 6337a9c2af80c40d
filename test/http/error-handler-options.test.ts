/**
 * The error handlers of the five adapters check their options the same way, when they are made
 * (one shared check, `checkErrorHandlerOptions` in src/http/): a misspelt option is refused with
 * "did you mean", an `errorBody` that is not a function and options that are not an object too, each
 * with the library's InvalidArgumentTypeError and the same message.
 */
import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentTypeError } from '../../src/core/errors.js';
import { tokenErrorHandler as expressHandler } from '../../src/frameworks/express.js';
import { tokenErrorHandler as fastifyHandler } from '../../src/frameworks/fastify.js';
import { tokenErrorHandler as honoHandler } from '../../src/frameworks/hono.js';
import { tokenErrorHandler as koaHandler } from '../../src/frameworks/koa.js';
import { TokenErrorFilter } from '../../src/frameworks/nestjs.js';

const makers: [string, (options: unknown) => unknown, string][] = [
  ['express tokenErrorHandler', (o) => expressHandler(o as never), 'tokenErrorHandler options'],
  ['fastify tokenErrorHandler', (o) => fastifyHandler(o as never), 'tokenErrorHandler options'],
  ['koa tokenErrorHandler', (o) => koaHandler(o as never), 'tokenErrorHandler options'],
  ['hono tokenErrorHandler', (o) => honoHandler(o as never), 'tokenErrorHandler options'],
  ['nestjs TokenErrorFilter', (o) => new TokenErrorFilter(undefined, o as never), 'TokenErrorFilter options'],
];

describe.each(makers)('%s', (_name, make, where) => {
  it('refuses a misspelt option, naming the one meant', () => {
    expect(() => make({ errrorBody: () => ({}) })).toThrow(InvalidArgumentTypeError);
    expect(() => make({ errrorBody: () => ({}) })).toThrow(
      `${where}: unknown option \`errrorBody\` (did you mean \`errorBody\`?)`,
    );
  });

  it('refuses an errorBody that is not a function, and options that are not an object', () => {
    expect(() => make({ errorBody: 'oops' })).toThrow(InvalidArgumentTypeError);
    expect(() => make({ errorBody: 'oops' })).toThrow(
      `${where}: errorBody must be a function (response) => body; got string`,
    );
    for (const bad of [null, 'x', 1, []])
      expect(() => make(bad), JSON.stringify(bad)).toThrow(`${where} must be an object`);
  });

  it('accepts none, {} and { errorBody }', () => {
    expect(() => make(undefined)).not.toThrow();
    expect(() => make({})).not.toThrow();
    expect(() => make({ errorBody: () => ({ code: 1 }) })).not.toThrow();
  });
});
