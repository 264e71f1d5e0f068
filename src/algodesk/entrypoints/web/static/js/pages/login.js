import { signIn } from "../api.js";

const notes = {
  idle: "You were signed out after a while without activity.",
  expired: "Your session ended; sign in again.",
  signed_out: "You are signed out.",
};
const params = new URLSearchParams(location.search);
document.getElementById("login-note").textContent = notes[params.get("reason")] ?? "";

function target() {
  // Only a page of this site, however the browser would read the text: never elsewhere.
  try {
    const url = new URL(params.get("next") || "/", location.origin);
    if (url.origin !== location.origin || url.pathname === "/login") return "/";
    return url.pathname + url.search + url.hash;
  } catch {
    return "/";
  }
}

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
document.getElementById("username").focus();
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    await signIn(form.username.value.trim(), form.password.value);
    location.assign(target());
  } catch (failure) {
    error.textContent = failure.status === 401
      ? "Wrong username or password."
      : `Could not sign in: ${failure.message}`;
    button.disabled = false;
  }
});
