// The live view of one companion session (/studio/session/{id}/live): what happens as the
// daemon pushes it (players' events, the companion's actions with their moderation
// decision, rate-limit hits, round trips), controls to act, pause and end, and after the
// end the replay from the audit log.
import { useEffect, useRef, useState } from "react";
import { api, ApiError } from "../../api";
import { useFormat, useT } from "../../i18n";
import type { LiveItem, SessionStatus } from "../types";
import { readSse } from "./sse";

const ACTION_TYPES = ["chat", "emote", "move_to", "follow", "look_at", "stop"];

function ItemRow({ item, current }: { item: LiveItem; current?: boolean }) {
  const decided = item.kind === "action" || item.kind === "rate_limit";
  const t = useT();
  const fmt = useFormat();
  return (
    <li className={`live-item live-${item.kind} decision-${item.decision}${current ? " current" : ""}`}
      aria-current={current ? "step" : undefined} data-testid="live-item">
      <time className="muted" dateTime={item.at}>{fmt.time(item.at)}</time>
      <span className="badge">{t(`live.kind.${item.kind}`)}</span>
      <span className="what">{item.text}</span>
      {decided && <span className={`badge decision decision-${item.decision}`}>{t(`decision.${item.decision}`)}</span>}
      {item.masked && <span className="masked">{t("live.delivered", { text: item.masked })}</span>}
      {decided && item.decision === "block" && item.reason && <span className="reason">{t("live.blocked", { reason: item.reason })}</span>}
      {item.latency_ms !== null && <span className="latency">{t("live.roundTrip", { ms: Math.round(item.latency_ms) })}</span>}
    </li>
  );
}

function ActionForm({ onSend }: { onSend: (action: Record<string, unknown>) => void }) {
  const [type, setType] = useState("chat");
  const [value, setValue] = useState("");
  const t = useT();
  const field = type === "chat" ? "message" : type === "emote" ? "name" : type === "stop" ? null : "target";
  return (
    <form className="row" aria-label={t("live.sendAction")} onSubmit={(e) => {
      e.preventDefault();
      const action: Record<string, unknown> = { type };
      if (field) action[field] = type === "move_to" && /^-?\d/.test(value)
        ? (([x, y, z]) => ({ x, y, z }))(value.split(",").map(Number)) : value;
      onSend(action);
      setValue("");
    }}>
      <label className="field inline">{t("live.action")}
        <select aria-label={t("live.action")} value={type} onChange={(e) => setType(e.target.value)}>{ACTION_TYPES.map((t) => <option key={t}>{t}</option>)}</select>
      </label>
      {field && (
        <label className="field inline">{t({ message: "live.message", name: "live.emote", target: "live.target" }[field])}
          <input value={value} onChange={(e) => setValue(e.target.value)} required
            placeholder={type === "move_to" ? t("live.targetHint") : ""} />
        </label>
      )}
      <button type="submit">{t("live.send")}</button>
    </form>
  );
}

function Replay({ items }: { items: LiveItem[] }) {
  const [step, setStep] = useState(items.length);
  const [playing, setPlaying] = useState(false);
  const t = useT();
  useEffect(() => {
    if (!playing) return;
    if (step >= items.length) { setPlaying(false); return; }
    const timer = setTimeout(() => setStep((s) => s + 1), 600);
    return () => clearTimeout(timer);
  }, [playing, step, items.length]);
  return (
    <section className="panel" aria-labelledby="replay-title">
      <h2 id="replay-title">{t("live.replay")}</h2>
      <div className="row" role="toolbar" aria-label={t("live.replay")}>
        <button type="button" onClick={() => { setStep(0); setPlaying(true); }}>{t("live.fromStart")}</button>
        <button type="button" onClick={() => { setPlaying(false); setStep((s) => Math.max(0, s - 1)); }} disabled={step === 0}>{t("live.previous")}</button>
        <button type="button" onClick={() => { setPlaying(false); setStep((s) => Math.min(items.length, s + 1)); }} disabled={step >= items.length}>{t("live.next")}</button>
        <span className="muted" data-testid="replay-step">{t("live.step", { step, total: items.length })}</span>
      </div>
      <ol className="live-items" aria-label={t("live.replaySteps")}>
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
  const t = useT();
  const fmt = useFormat();

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
      setNotice(t("live.problem", { what, problems: [err.message, ...err.errors].join("; ") }));
      return null;
    }
  };
  const send = async (action: Record<string, unknown>) => {
    const r = (await call(t("live.notSent"), "/signal", { sessionId, actions: [action] })) as
      { results: { decision: string; reason: string | null }[] } | null;
    if (r) {
      const [res] = r.results;
      const sent = t("live.sent", { decision: t(`decision.${res.decision}`) });
      setNotice(res.reason ? t("live.withReason", { text: sent, reason: res.reason }) : sent);
    }
  };
  const pause = async (paused: boolean) => {
    const r = (await call(t("live.notChanged"), `/session/${encodeURIComponent(sessionId)}/${paused ? "pause" : "resume"}`)) as SessionStatus | null;
    if (r) setStatus(r);
  };

  const live = status !== null && status.status !== "ended";
  const sessionState = (s: string) => (["live", "ended"].includes(s) ? t(`state.${s}`) : s);
  return (
    <div className="flow-page live-page">
      <section className="panel" aria-labelledby="live-title">
        <h2 id="live-title">{t("live.session", { id: sessionId })}</h2>
        <p>
          <a href="/studio/">{t("live.back")}</a>{" · "}
          {t("live.status")} <strong data-testid="live-status">{status ? (status.paused ? t("live.paused", { status: sessionState(status.status) }) : sessionState(status.status)) : t("live.connecting")}</strong>
        </p>
        {status && (
          <dl className="kpis">
            <div><dt>{t("live.actionsSent")}</dt><dd>{fmt.number(status.actions_sent)}</dd></div>
            <div><dt>{t("live.blockedKpi")}</dt><dd>{fmt.number(status.actions_blocked)}</dd></div>
            <div><dt>{t("live.done")}</dt><dd>{fmt.number(status.actions_done)}</dd></div>
            <div><dt>{t("live.failed")}</dt><dd>{fmt.number(status.actions_failed)}</dd></div>
            <div><dt>{t("live.events")}</dt><dd>{fmt.number(status.events)}</dd></div>
          </dl>
        )}
        {error && <p className="error" role="alert">{error}</p>}
        {live && (
          <div className="controls">
            <ActionForm onSend={send} />
            <div className="row">
              {status.paused
                ? <button type="button" onClick={() => pause(false)}>{t("live.resume")}</button>
                : <button type="button" onClick={() => pause(true)}>{t("live.pause")}</button>}
              <button type="button" className="danger" onClick={() => call(t("live.notEnded"), `/session/${encodeURIComponent(sessionId)}/end`)}>{t("live.end")}</button>
            </div>
          </div>
        )}
        <p role="status" className="muted" data-testid="live-notice">{notice}</p>
      </section>
      {replay === null ? (
        <section className="panel" aria-labelledby="stream-title">
          <h2 id="stream-title">{t("live.live")}</h2>
          {items.length === 0 && <p className="muted">{t("live.nothing")}</p>}
          <ol className="live-items" aria-label={t("live.liveEvents")} aria-live="polite">
            {items.map((item) => <ItemRow key={item.seq} item={item} />)}
          </ol>
        </section>
      ) : <Replay items={replay} />}
    </div>
  );
}
