// Accessibility fixes for markup the book does not write itself, found by the axe-core
// audit of every page (tests/test_site_browser.py):
//
// 1. The sliders of the interactive experiments (ipywidgets' noUiSlider handles, made by
//    the widget manager after the page loads) have role="slider" but no name, and their
//    aria-valuetext is the option's index ("3"), not what the slider shows ("0.5"). Each
//    handle is named after the widget's description (e.g. "η") and its value text is kept
//    equal to the readout next to it.
// 2. The theme's search field is labelled "Search" while it shows "Search Ctrl+K", and
//    the colour-mode button shows an icon titled "Light", "Dark" or "System Settings"
//    (Font Awesome turns the theme's <i> into an <svg> with a <title>) while it is
//    labelled "Color mode": a speech-input user saying what they see would reach
//    neither. The search field is named by its visible text; the icons, decorative next
//    to the button's label, lose their titles.
(function () {
  "use strict";

  function sliderName(handle) {
    var widget = handle.closest(".widget-slider, .widget-hslider, .widget-vslider");
    var label = widget && widget.querySelector(".widget-label");
    var text = label ? label.textContent.trim() : "";
    return text ? "slider " + text : "slider";
  }

  function readout(handle) {
    var widget = handle.closest(".widget-slider, .widget-hslider, .widget-vslider");
    var shown = widget && widget.querySelector(".widget-readout");
    if (!shown) {
      return "";
    }
    return (shown.value !== undefined && shown.value !== "" ? shown.value : shown.textContent)
      .trim();
  }

  function fixHandle(handle) {
    if (!handle.getAttribute("aria-label")) {
      handle.setAttribute("aria-label", sliderName(handle));
    }
    var text = readout(handle);
    if (text && handle.getAttribute("aria-valuetext") !== text) {
      handle.setAttribute("aria-valuetext", text);
    }
  }

  function fixAll(root) {
    root.querySelectorAll(".noUi-handle").forEach(fixHandle);
  }

  function fixTheme() {
    document.querySelectorAll(".search-button-field[aria-label]").forEach(function (button) {
      if (button.textContent.trim()) {
        button.removeAttribute("aria-label");
      }
    });
    document.querySelectorAll(".theme-switch-button .theme-switch").forEach(function (icon) {
      icon.setAttribute("aria-hidden", "true");
      icon.removeAttribute("aria-labelledby");
      icon.removeAttribute("title");
      icon.querySelectorAll("title").forEach(function (title) {
        title.remove();
      });
    });
  }

  function start() {
    fixTheme();
    fixAll(document);
    // Widgets are rendered, and their handles and readouts updated, after this runs.
    new MutationObserver(function (mutations) {
      if (document.querySelector(".theme-switch-button title, .search-button-field[aria-label]")) {
        fixTheme();  // Font Awesome has just replaced the theme's icons
      }
      mutations.forEach(function (mutation) {
        var target = mutation.target;
        if (target.nodeType !== 1) {
          target = target.parentElement;
        }
        if (!target) {
          return;
        }
        var widget = target.closest(".widget-slider, .widget-hslider, .widget-vslider");
        fixAll(widget || target);
      });
    }).observe(document.body, {
      childList: true,
      subtree: true,
      characterData: true,
      attributes: true,
      attributeFilter: ["aria-valuetext", "aria-valuenow"],
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
