// Upload progress for forms marked data-progress (htmx sends them with XHR, which reports it).
document.addEventListener("htmx:xhr:progress", function (event) {
  var form = event.target.closest && event.target.closest("form[data-progress]");
  if (!form || !event.detail.lengthComputable) return;
  var bar = document.getElementById(form.dataset.progress);
  if (!bar) return;
  if (bar.parentElement) bar.parentElement.hidden = false;
  bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
  bar.textContent = bar.value + "%";
});
// While a form is being sent, its submit button is disabled so a double tap posts once.
document.addEventListener("htmx:beforeRequest", function (event) {
  var button = event.target.querySelector && event.target.querySelector("button[type=submit]");
  if (button) button.disabled = true;
});
document.addEventListener("htmx:afterRequest", function (event) {
  var button = event.target.querySelector && event.target.querySelector("button[type=submit]");
  if (button) button.disabled = false;
});
