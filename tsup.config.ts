import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    express: 'src/express.ts',
    fastify: 'src/fastify.ts',
    redis: 'src/redis.ts',
    ioredis: 'src/ioredis.ts',
    'node-redis': 'src/node-redis.ts',
    http: 'src/http.ts',
    koa: 'src/koa.ts',
    hono: 'src/hono.ts',
    nestjs: 'src/nestjs.ts',
    testing: 'src/testing/index.ts',
    opentelemetry: 'src/opentelemetry.ts',
    // The admin CLI (package.json "bin"): run as ESM only; the CommonJS copy tsup also makes is unused.
    cli: 'src/cli.ts',
  },
  format: ['esm', 'cjs'],
  // `npm start` (the demo) needs only the JavaScript: skip the slow declaration build there.
  dts: process.env.npm_lifecycle_event !== 'start',
  clean: true,
  sourcemap: true,
  target: 'node20',
  splitting: true,
  external: [
    'ioredis',
    'commander',
    'cli-progress',
    '@inquirer/password',
    'redis',
    'express',
    'fastify',
    'fastify-plugin',
    '@nestjs/common',
    '@nestjs/core',
    'koa',
    'hono',
    '@opentelemetry/api',
  ],
});
