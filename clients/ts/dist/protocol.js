/* Generated from the server's protocol models by scripts/generate.mjs: do not edit.
 * Regenerate: python -m app.api.client_schema > schema/protocol.schema.json && npm run generate */
export {};
