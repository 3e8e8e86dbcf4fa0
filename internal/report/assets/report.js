// keywarden report: sorting and filtering of the findings table. It reads
// data-* attributes and textContent only and never writes HTML, so nothing
// from IAM can become markup.
(function () {
  "use strict";
  var table = document.getElementById("findings");
  var form = document.getElementById("filters");
  var status = document.getElementById("status");
  var rows = table ? Array.prototype.slice.call(table.tBodies[0].rows) : [];
  var total = rows.length;
  rows.forEach(function (row, i) { row.dataset.order = String(i); });

  var controls = {};
  if (form) {
    Array.prototype.forEach.call(form.querySelectorAll("[data-filter]"), function (el) {
      controls[el.dataset.filter] = el;
      el.addEventListener(el.tagName === "INPUT" ? "input" : "change", apply);
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); });
  }
  var reset = document.getElementById("reset");
  if (reset) {
    reset.addEventListener("click", function () { setFilters({}, true); });
  }

  function value(key) {
    var el = controls[key];
    return el ? el.value : "";
  }

  // apply shows the rows that match every filter and updates the status.
  function apply() {
    var want = {};
    ["account", "rule", "severity", "stage", "next"].forEach(function (k) { want[k] = value(k); });
    var q = value("q").trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var ok = Object.keys(want).every(function (k) { return !want[k] || row.dataset[k] === want[k]; }) &&
        (!q || row.dataset.user.toLowerCase().indexOf(q) >= 0);
      row.hidden = !ok;
      if (ok) { shown++; }
    });
    if (status) {
      status.textContent = shown === total ? total + (total === 1 ? " finding" : " findings")
        : "Showing " + shown + " of " + total + " findings";
    }
  }

  // setFilters sets the named filters (others cleared when clear is true).
  function setFilters(values, clear) {
    Object.keys(controls).forEach(function (k) {
      if (k in values) {
        var el = controls[k];
        if (el.tagName === "SELECT" && !Array.prototype.some.call(el.options, function (o) { return o.value === values[k]; })) {
          var opt = document.createElement("option");
          opt.value = values[k];
          opt.textContent = values[k];
          el.appendChild(opt);
        }
        el.value = values[k];
      } else if (clear) {
        controls[k].value = "";
      }
    });
    apply();
    if (table) { table.scrollIntoView({ block: "nearest" }); }
  }

  function activate(el, handler) {
    el.addEventListener("click", handler);
    el.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); handler(); }
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("#chart-by-account .seg"), function (seg) {
    activate(seg, function () { setFilters({ account: seg.dataset.account, rule: seg.dataset.rule }, true); });
  });
  Array.prototype.forEach.call(document.querySelectorAll("#chart-calendar .day[role=button]"), function (day) {
    activate(day, function () { setFilters({ next: day.dataset.date }, true); });
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-set-filter]"), function (chip) {
    activate(chip, function () {
      var v = {};
      v[chip.dataset.setFilter] = chip.dataset.value;
      setFilters(v, true);
    });
  });

  // Sorting: a click on a header sorts by that column, a second click
  // reverses it. Ties keep the report's order.
  if (table) {
    var headers = Array.prototype.slice.call(table.tHead.querySelectorAll("button[data-sort]"));
    headers.forEach(function (btn) {
      btn.addEventListener("click", function () {
        var th = btn.parentNode;
        var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
        headers.forEach(function (b) { b.parentNode.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", dir);
        sortBy(btn.dataset.sort, btn.dataset.type === "num", dir === "ascending" ? 1 : -1);
      });
    });
  }

  function sortBy(key, numeric, sign) {
    var body = table.tBodies[0];
    var sorted = rows.slice().sort(function (a, b) {
      var x = a.dataset[key] || "", y = b.dataset[key] || "", c;
      if (numeric) {
        c = Number(x) - Number(y);
      } else if (x === "" || y === "") {
        c = x === y ? 0 : (x === "" ? 1 : -1) * sign; // empty values last
      } else {
        c = x.localeCompare(y);
      }
      return c * sign || Number(a.dataset.order) - Number(b.dataset.order);
    });
    sorted.forEach(function (row) { body.appendChild(row); });
  }

  apply();
}());
