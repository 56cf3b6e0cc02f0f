// On a phone, bpbook-tables.css shows each row of a `bpbook-stack` table as a block and
// hides the header row. Without the header a reader of the conversion table cannot tell
// Nielsen's symbol from Ng's, so every cell is given its column's name, which the CSS
// prints before the cell's content.
(function () {
  "use strict";

  function labelTable(table) {
    var heads = table.querySelectorAll("thead th");
    if (!heads.length) {
      return;
    }
    var names = Array.prototype.map.call(heads, function (th) {
      return th.textContent.trim();
    });
    table.querySelectorAll("tbody tr").forEach(function (row) {
      Array.prototype.forEach.call(row.children, function (cell, column) {
        if (column > 0 && names[column] && cell.textContent.trim()) {
          cell.setAttribute("data-label", names[column]);
        }
      });
    });
  }

  function labelAll() {
    document.querySelectorAll("table.bpbook-stack").forEach(labelTable);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", labelAll);
  } else {
    labelAll();
  }
})();
