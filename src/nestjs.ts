export * from './frameworks/nestjs.js';
