// The desk's WebSocket stream, reconnecting with backoff. Each message goes to onMessage; after
// a reconnect onMessage also gets {type: "Reconnected"}, so the page reloads what it missed.
// The header's badge says whether the page is live. A refused token (close code 1008) goes
// through the API's refresh, and signs out when the session is over.
import { api, signOut, streamToken } from "./api.js";

function badge(live) {
  const node = document.getElementById("live-badge");
  if (!node) return;
  node.hidden = false;
  node.textContent = live ? "live" : "disconnected";
  node.className = `badge ${live ? "ACTIVE" : "HALTED"}`;
  node.title = live ? "Updates arrive as they happen" : "Not receiving updates; reconnecting";
}

export function openStream(topics, onMessage) {
  let socket = null;
  let closed = false;
  let delay = 500;
  let opens = 0;

  async function connect() {
    if (closed) return;
    const token = await streamToken();
    if (!token) {
      signOut("expired");
      return;
    }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams({ token, topics: topics.join(",") });
    socket = new WebSocket(`${scheme}://${location.host}/api/v1/stream?${params}`);
    socket.addEventListener("open", () => {
      delay = 500;
      badge(true);
      opens += 1;
      if (opens > 1) onMessage({ topic: "stream", type: "Reconnected", data: {} });
    });
    socket.addEventListener("message", (event) => {
      try {
        onMessage(JSON.parse(event.data));
      } catch (error) {
        console.warn("stream message not handled", error);
      }
    });
    socket.addEventListener("close", async (event) => {
      badge(false);
      if (closed) return;
      if (event.code === 1008) {
        // Refused: the API call refreshes the token, or signs out when it cannot.
        await api("/api/v1/me");
      }
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10_000);
    });
  }

  connect();
  return {
    close() {
      closed = true;
      socket?.close();
    },
  };
}
