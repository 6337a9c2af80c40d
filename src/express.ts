export * from './frameworks/express.js';
