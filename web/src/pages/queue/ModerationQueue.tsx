// The admin's moderation queue: personas waiting for approval with what moderation found
// in them, their safety settings and the deploy waiting on them; approve or reject with a
// note (the creator sees it; it is kept in the audit log).
import { useCallback, useEffect, useState } from "react";
import { api, ApiError } from "../../api";
import { useFormat, useT, useTn } from "../../i18n";
import { describe, type DeployView, type QueueItem, TOPICS } from "../types";

export function ModerationQueue({ apiKey }: { apiKey: string }) {
  const [items, setItems] = useState<QueueItem[] | null>(null);
  const [notes, setNotes] = useState<Record<string, string>>({});
  const [done, setDone] = useState<string[]>([]);
  const [error, setError] = useState("");
  const t = useT();
  const tn = useTn();
  const fmt = useFormat();

  const load = useCallback(() => {
    api<QueueItem[]>(apiKey, "GET", "/moderation/queue").then((q) => { setItems(q); setError(""); })
      .catch((e: ApiError) => setError(e.message));
  }, [apiKey]);
  useEffect(() => {
    load();
    const timer = setInterval(load, 2000);
    return () => clearInterval(timer);
  }, [load]);

  const decide = async (item: QueueItem, verdict: "approve" | "reject") => {
    try {
      const r = await api<{ status: string; deploy: DeployView | null }>(apiKey, "POST",
        `/moderation/queue/${encodeURIComponent(item.persona_id)}/${verdict}`, { note: notes[item.persona_id] ?? "" });
      const decision = t(verdict === "approve" ? "queue.approved" : "queue.rejected", { name: item.name });
      const state = r.deploy?.reason ? t("live.withReason", { text: t(`state.${r.deploy.state}`), reason: r.deploy.reason }) : t(`state.${r.deploy?.state ?? "idle"}`);
      setDone((d) => [r.deploy ? t("queue.deployResult", { decision, world: r.deploy.world, server: r.deploy.server_id, state }) : decision, ...d]);
      load();
    } catch (e) {
      const err = e as ApiError;
      setError(`${item.name}: ${[err.message, ...err.errors].join("; ")}`);
    }
  };

  return (
    <div className="flow-page queue-page">
      <section className="panel" aria-labelledby="queue-title">
        <h2 id="queue-title">{t("queue.title")}</h2>
        {error && <p className="error" role="alert">{error}</p>}
        {items === null ? <p className="muted">{t("queue.loading")}</p> : items.length === 0 ? (
          <p className="muted" data-testid="queue-empty">{t("queue.empty")}</p>
        ) : (
          <ul className="queue">
            {items.map((item) => (
              <li key={item.persona_id}>
                <article className="queue-item" aria-label={t("queue.persona", { name: item.name })}>
                  <h3>{item.name} <span className="badge">{t(item.why === "review" ? "queue.new" : "queue.again")}</span></h3>
                  <p>{item.description || <span className="muted">{t("queue.noDescription")}</span>}</p>
                  {item.goals.length > 0 && <p>{t("queue.goals", { goals: item.goals.join("; ") })}</p>}
                  <p className="muted">{t("queue.submitted", { creator: item.creator_id, when: fmt.dateTime(item.submitted_at) })}</p>
                  <h4>{t("queue.found")}</h4>
                  {item.findings.length === 0 ? (
                    <p className="ok">{t("queue.clean")}</p>
                  ) : (
                    <ul className="findings">{item.findings.map((f) => <li key={f.field}>{describe(f, t)}</li>)}</ul>
                  )}
                  <p className="muted">
                    {tn("queue.safety", item.max_actions_per_minute, {
                      topics: item.blocked_topics.map((topic) => (TOPICS.includes(topic) ? t(`topic.${topic}`) : topic)).join(", ") || t("queue.noTopics"),
                      actions: item.allowed_actions.join(", "),
                    })}
                  </p>
                  {item.deploy && <p>{t("queue.waiting", { world: item.deploy.world, server: item.deploy.server_id, step: item.deploy.step })}</p>}
                  <label className="field">{t("queue.note")}
                    <textarea rows={2} maxLength={500} value={notes[item.persona_id] ?? ""}
                      onChange={(e) => setNotes((n) => ({ ...n, [item.persona_id]: e.target.value }))} />
                  </label>
                  <div className="row">
                    <button type="button" className="primary" onClick={() => decide(item, "approve")}>{t("queue.approve")}</button>
                    <button type="button" className="danger" onClick={() => decide(item, "reject")}>{t("queue.reject")}</button>
                  </div>
                </article>
              </li>
            ))}
          </ul>
        )}
        {done.length > 0 && (
          <ul className="log" aria-label={t("queue.decisions")} data-testid="queue-decisions">{done.map((d, i) => <li key={i}>{d}</li>)}</ul>
        )}
      </section>
    </div>
  );
}
