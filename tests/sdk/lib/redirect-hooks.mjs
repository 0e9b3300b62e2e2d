// Module resolution hooks (registered by use-oriel-sdk.mjs): tests/e2e/lib/browser.mjs
// resolves to tests/sdk/lib/browser.mjs, which loads Oriel's SDK into the participant pages.
const ORIGINAL = '/tests/e2e/lib/browser.mjs';
const REPLACEMENT = new URL('./browser.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (resolved.url.endsWith(ORIGINAL)) return { ...resolved, url: REPLACEMENT };
  return resolved;
}
