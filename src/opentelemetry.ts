export * from './integrations/opentelemetry.js';
