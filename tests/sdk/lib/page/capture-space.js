// Keeps every Space the page makes in window.__spaces (the e2e harness keeps its own private),
// so that a test can drive any API of the SDK under test with page.evaluate. Loaded after the SDK.
(() => {
  const sdk = window.MuxSpaces;
  const Base = sdk.Space;
  const spaces = [];
  class Space extends Base {
    constructor(...args) {
      super(...args);
      spaces.push(this);
    }
  }
  window.MuxSpaces = Object.assign({}, sdk, { Space });
  window.__spaces = spaces;
})();
