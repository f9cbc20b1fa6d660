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
// A form whose answer is an error the page does not swap in (a 5xx, a 404, a proxy's 502), or that
// never reached the server, says so above the form: a failed request is never silent.
function requestProblem(event, message) {
  var sender = event.detail && event.detail.elt;
  var form = (sender && sender.closest && sender.closest("form")) || sender;
  if (!form || !form.parentNode) return;
  var box = form.querySelector("[data-request-error]");
  if (!box) {
    box = document.createElement("p");
    box.className = "error-summary";
    box.setAttribute("role", "alert");
    box.setAttribute("data-request-error", "");
    form.insertBefore(box, form.firstChild);
  }
  box.textContent = message;
  box.hidden = false;
  if (box.scrollIntoView) box.scrollIntoView({ block: "nearest" });
}
document.addEventListener("htmx:responseError", function (event) {
  var status = event.detail.xhr ? event.detail.xhr.status : 0;
  requestProblem(
    event,
    "The server could not finish this (error " + status + "). " +
      "Reload the page to see what was saved, then try again; if it happens again, tell your administrator."
  );
});
document.addEventListener("htmx:sendError", function (event) {
  requestProblem(
    event,
    "The server could not be reached. Check the connection, reload the page to see what was saved, then try again."
  );
});
document.addEventListener("htmx:beforeRequest", function (event) {
  var form = event.target.closest && event.target.closest("form");
  var box = form && form.querySelector("[data-request-error]");
  if (box) box.hidden = true;
});
