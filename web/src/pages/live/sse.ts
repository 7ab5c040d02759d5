// Server-sent events over fetch: EventSource cannot send an Authorization header, and the
// key must never go in a URL. Reconnects after a drop with Last-Event-ID (nothing is
// missed: ids are the audit log's sequence numbers) until the stream says `end` or the
// caller aborts.

export interface SseEvent { event: string; data: string; id: string | null }

export async function readSse(
  url: string,
  key: string,
  onEvent: (e: SseEvent) => void,
  signal: AbortSignal,
  onError: (message: string) => void,
): Promise<void> {
  let lastId: string | null = null;
  let ended = false;
  for (let attempt = 0; !ended && !signal.aborted; attempt++) {
    try {
      const response = await fetch(url, {
        headers: { Authorization: `Bearer ${key}`, Accept: "text/event-stream", ...(lastId ? { "Last-Event-ID": lastId } : {}) },
        signal,
      });
      if (!response.ok || !response.body) {
        const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
        onError(body?.error?.message ?? `HTTP ${response.status}`);
        return; // a refusal (403, 404) will not change by asking again
      }
      attempt = 0;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut: number;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const e: SseEvent = { event: "message", data: "", id: null };
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) e.event = line.slice(7);
            else if (line.startsWith("data: ")) e.data += line.slice(6);
            else if (line.startsWith("id: ")) e.id = line.slice(4);
          }
          if (!e.data) continue; // a comment (keepalive)
          if (e.id) lastId = e.id;
          if (e.event === "end") ended = true;
          onEvent(e);
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    if (!ended && !signal.aborted) await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
  }
}
