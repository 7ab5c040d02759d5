// The live view of one companion session (/studio/session/{id}/live): what happens as the
// daemon pushes it (players' events, the companion's actions with their moderation
// decision, rate-limit hits, round trips), controls to act, pause and end, and after the
// end the replay from the audit log.
import { useEffect, useRef, useState } from "react";
import { api, ApiError } from "../../api";
import type { LiveItem, SessionStatus } from "../types";
import { readSse } from "./sse";

const ACTION_TYPES = ["chat", "emote", "move_to", "follow", "look_at", "stop"];

function ItemRow({ item, current }: { item: LiveItem; current?: boolean }) {
  const decided = item.kind === "action" || item.kind === "rate_limit";
  return (
    <li className={`live-item live-${item.kind} decision-${item.decision}${current ? " current" : ""}`}
      aria-current={current ? "step" : undefined} data-testid="live-item">
      <time className="muted" dateTime={item.at}>{new Date(item.at).toLocaleTimeString()}</time>
      <span className="badge">{item.kind === "rate_limit" ? "rate limit" : item.kind}</span>
      <span className="what">{item.text}</span>
      {decided && <span className={`badge decision decision-${item.decision}`}>{item.decision}</span>}
      {item.masked && <span className="masked">delivered as “{item.masked}”</span>}
      {decided && item.decision === "block" && item.reason && <span className="reason">blocked: {item.reason}</span>}
      {item.latency_ms !== null && <span className="latency">{item.latency_ms.toFixed(0)} ms round trip</span>}
    </li>
  );
}

function ActionForm({ onSend }: { onSend: (action: Record<string, unknown>) => void }) {
  const [type, setType] = useState("chat");
  const [value, setValue] = useState("");
  const field = type === "chat" ? "message" : type === "emote" ? "name" : type === "stop" ? null : "target";
  return (
    <form className="row" aria-label="Send an action" onSubmit={(e) => {
      e.preventDefault();
      const action: Record<string, unknown> = { type };
      if (field) action[field] = type === "move_to" && /^-?\d/.test(value)
        ? (([x, y, z]) => ({ x, y, z }))(value.split(",").map(Number)) : value;
      onSend(action);
      setValue("");
    }}>
      <label className="field inline">Action
        <select aria-label="Action" value={type} onChange={(e) => setType(e.target.value)}>{ACTION_TYPES.map((t) => <option key={t}>{t}</option>)}</select>
      </label>
      {field && (
        <label className="field inline">{{ message: "Message", name: "Emote", target: "Target" }[field]}
          <input value={value} onChange={(e) => setValue(e.target.value)} required
            placeholder={type === "move_to" ? "x,y,z or a player" : ""} />
        </label>
      )}
      <button type="submit">Send</button>
    </form>
  );
}

function Replay({ items }: { items: LiveItem[] }) {
  const [step, setStep] = useState(items.length);
  const [playing, setPlaying] = useState(false);
  useEffect(() => {
    if (!playing) return;
    if (step >= items.length) { setPlaying(false); return; }
    const timer = setTimeout(() => setStep((s) => s + 1), 600);
    return () => clearTimeout(timer);
  }, [playing, step, items.length]);
  return (
    <section className="panel" aria-labelledby="replay-title">
      <h2 id="replay-title">Replay</h2>
      <div className="row" role="toolbar" aria-label="Replay">
        <button type="button" onClick={() => { setStep(0); setPlaying(true); }}>Play from the start</button>
        <button type="button" onClick={() => { setPlaying(false); setStep((s) => Math.max(0, s - 1)); }} disabled={step === 0}>Previous</button>
        <button type="button" onClick={() => { setPlaying(false); setStep((s) => Math.min(items.length, s + 1)); }} disabled={step >= items.length}>Next</button>
        <span className="muted" data-testid="replay-step">Step {step} of {items.length}</span>
      </div>
      <ol className="live-items" aria-label="Replay steps">
        {items.slice(0, step).map((item, i) => <ItemRow key={item.seq} item={item} current={i === step - 1} />)}
      </ol>
    </section>
  );
}

export function LiveView({ apiKey, sessionId }: { apiKey: string; sessionId: string }) {
  const [items, setItems] = useState<LiveItem[]>([]);
  const [status, setStatus] = useState<SessionStatus | null>(null);
  const [ended, setEnded] = useState(false);
  const [replay, setReplay] = useState<LiveItem[] | null>(null);
  const [error, setError] = useState("");
  const [notice, setNotice] = useState("");
  const seen = useRef(new Set<number>());

  useEffect(() => {
    const abort = new AbortController();
    void readSse(`/session/${encodeURIComponent(sessionId)}/stream`, apiKey, (e) => {
      if (e.event === "entry") {
        const item = JSON.parse(e.data) as LiveItem;
        if (seen.current.has(item.seq)) return;
        seen.current.add(item.seq);
        setItems((list) => [...list, item]);
      } else if (e.event === "status") setStatus(JSON.parse(e.data) as SessionStatus);
      else if (e.event === "end") setEnded(true);
    }, abort.signal, setError);
    return () => abort.abort();
  }, [apiKey, sessionId]);

  useEffect(() => {
    if (!ended) return;
    api<LiveItem[]>(apiKey, "GET", `/session/${encodeURIComponent(sessionId)}/items`).then(setReplay)
      .catch((e: ApiError) => setError(e.message));
  }, [apiKey, sessionId, ended]);

  const call = async (what: string, path: string, body?: unknown) => {
    setNotice("");
    try {
      const r = await api<unknown>(apiKey, "POST", path, body);
      return r;
    } catch (e) {
      const err = e as ApiError;
      setNotice(`${what}: ${[err.message, ...err.errors].join("; ")}`);
      return null;
    }
  };
  const send = async (action: Record<string, unknown>) => {
    const r = (await call("Not sent", "/signal", { sessionId, actions: [action] })) as
      { results: { decision: string; reason: string | null }[] } | null;
    if (r) { const [res] = r.results; setNotice(`Sent: ${res.decision}${res.reason ? ` (${res.reason})` : ""}`); }
  };
  const pause = async (paused: boolean) => {
    const r = (await call("Not changed", `/session/${encodeURIComponent(sessionId)}/${paused ? "pause" : "resume"}`)) as SessionStatus | null;
    if (r) setStatus(r);
  };

  const live = status !== null && status.status !== "ended";
  return (
    <div className="flow-page live-page">
      <section className="panel" aria-labelledby="live-title">
        <h2 id="live-title">Session {sessionId}</h2>
        <p>
          <a href="/studio/">Back to the studio</a>{" · "}
          Status: <strong data-testid="live-status">{status ? `${status.status}${status.paused ? " (paused)" : ""}` : "connecting…"}</strong>
        </p>
        {status && (
          <dl className="kpis">
            <div><dt>Actions sent</dt><dd>{status.actions_sent}</dd></div>
            <div><dt>Blocked</dt><dd>{status.actions_blocked}</dd></div>
            <div><dt>Done</dt><dd>{status.actions_done}</dd></div>
            <div><dt>Failed</dt><dd>{status.actions_failed}</dd></div>
            <div><dt>Game events</dt><dd>{status.events}</dd></div>
          </dl>
        )}
        {error && <p className="error" role="alert">{error}</p>}
        {live && (
          <div className="controls">
            <ActionForm onSend={send} />
            <div className="row">
              {status.paused
                ? <button type="button" onClick={() => pause(false)}>Resume</button>
                : <button type="button" onClick={() => pause(true)}>Pause</button>}
              <button type="button" className="danger" onClick={() => call("Not ended", `/session/${encodeURIComponent(sessionId)}/end`)}>End session</button>
            </div>
          </div>
        )}
        <p role="status" className="muted" data-testid="live-notice">{notice}</p>
      </section>
      {replay === null ? (
        <section className="panel" aria-labelledby="stream-title">
          <h2 id="stream-title">Live</h2>
          {items.length === 0 && <p className="muted">Nothing has happened yet.</p>}
          <ol className="live-items" aria-label="Live events" aria-live="polite">
            {items.map((item) => <ItemRow key={item.seq} item={item} />)}
          </ol>
        </section>
      ) : <Replay items={replay} />}
    </div>
  );
}
