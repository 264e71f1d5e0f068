// The desk's WebSocket stream, reconnecting with backoff; each message goes to onMessage.
import { streamToken } from "./api.js";

export function openStream(topics, onMessage) {
  let socket = null;
  let closed = false;
  let delay = 500;

  async function connect() {
    if (closed) return;
    const token = await streamToken();
    if (!token) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams({ token, topics: topics.join(",") });
    socket = new WebSocket(`${scheme}://${location.host}/api/v1/stream?${params}`);
    socket.addEventListener("open", () => { delay = 500; });
    socket.addEventListener("message", (event) => {
      try {
        onMessage(JSON.parse(event.data));
      } catch (error) {
        console.warn("stream message not handled", error);
      }
    });
    socket.addEventListener("close", () => {
      if (closed) return;
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
