// The Jupyter widget manager (ipywidgets 8) typesets widget labels with the MathJax 2
// call MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); the book loads MathJax 3,
// which has no Hub, so every widget label threw "reading 'Queue'". This bridge gives
// whatever object is stored in window.MathJax (the configuration first, MathJax 3 itself
// once it has loaded) a Hub whose Queue hands the element to MathJax 3's typesetPromise.
(function () {
  "use strict";

  function queue(command) {
    var element = Array.isArray(command) ? command[2] : undefined;
    var mathjax = window.MathJax;
    if (element && mathjax && typeof mathjax.typesetPromise === "function") {
      mathjax.typesetPromise([element]).catch(function () {});
    }
  }

  function withHub(value) {
    if (value && typeof value === "object" && !value.Hub) {
      value.Hub = { Queue: queue };
    }
    return value;
  }

  var current = withHub(window.MathJax);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    get: function () { return current; },
    set: function (value) { current = withHub(value); },
  });
})();
