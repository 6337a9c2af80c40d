export * from './frameworks/koa.js';
