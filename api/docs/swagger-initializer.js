// Swagger UI for Gatehouse. Everything is loaded from this service: the spec from
// /docs/openapi.yaml, the UI from /docs/. No request goes to any other host:
// validatorUrl is null (no online badge) and the page's Content-Security-Policy
// allows only 'self'.
window.addEventListener("load", function () {
  "use strict";
  window.ui = SwaggerUIBundle({
    url: "/docs/openapi.yaml",
    dom_id: "#swagger-ui",
    deepLinking: true,
    withCredentials: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout"
  });
});
