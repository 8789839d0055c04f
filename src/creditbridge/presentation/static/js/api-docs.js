// Starts Swagger UI on /api/v1/docs from our own copy (static/vendor/swagger-ui). The document's
// address comes from a data- attribute: the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var element = document.getElementById("swagger-ui");
    if (!element || typeof SwaggerUIBundle === "undefined") {
      return;
    }
    SwaggerUIBundle({
      url: element.dataset.openapiUrl,
      dom_id: "#swagger-ui",
      deepLinking: true,
      docExpansion: "list",
      defaultModelsExpandDepth: 0,
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
    });
  });
})();
