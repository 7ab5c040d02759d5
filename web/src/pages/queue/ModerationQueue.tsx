// The admin's moderation queue: personas waiting for approval with what moderation found
// in them, their safety settings and the deploy waiting on them; approve or reject with a
// note (the creator sees it; it is kept in the audit log).
import { useCallback, useEffect, useState } from "react";
import { api, ApiError } from "../../api";
import { describe, type DeployView, type QueueItem } from "../types";

export function ModerationQueue({ apiKey }: { apiKey: string }) {
  const [items, setItems] = useState<QueueItem[] | null>(null);
  const [notes, setNotes] = useState<Record<string, string>>({});
  const [done, setDone] = useState<string[]>([]);
  const [error, setError] = useState("");

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
      const deploy = r.deploy ? ` — deploy to ${r.deploy.world}/${r.deploy.server_id}: ${r.deploy.state}${r.deploy.reason ? ` (${r.deploy.reason})` : ""}` : "";
      setDone((d) => [`${item.name}: ${verdict === "approve" ? "approved" : "rejected"}${deploy}`, ...d]);
      load();
    } catch (e) {
      const err = e as ApiError;
      setError(`${item.name}: ${[err.message, ...err.errors].join("; ")}`);
    }
  };

  return (
    <div className="flow-page queue-page">
      <section className="panel" aria-labelledby="queue-title">
        <h2 id="queue-title">Moderation queue</h2>
        {error && <p className="error" role="alert">{error}</p>}
        {items === null ? <p className="muted">Loading…</p> : items.length === 0 ? (
          <p className="muted" data-testid="queue-empty">Nothing waits for a decision.</p>
        ) : (
          <ul className="queue">
            {items.map((item) => (
              <li key={item.persona_id}>
                <article className="queue-item" aria-label={`Persona ${item.name}`}>
                  <h3>{item.name} <span className="badge">{item.why === "review" ? "new persona" : "deploy again"}</span></h3>
                  <p>{item.description || <span className="muted">No description.</span>}</p>
                  {item.goals.length > 0 && <p>Goals: {item.goals.join("; ")}</p>}
                  <p className="muted">Creator {item.creator_id}; submitted {new Date(item.submitted_at).toLocaleString()}</p>
                  <h4>What moderation found</h4>
                  {item.findings.length === 0 ? (
                    <p className="ok">Nothing: every text field passed the screen.</p>
                  ) : (
                    <ul className="findings">{item.findings.map((f) => <li key={f.field}>{describe(f)}</li>)}</ul>
                  )}
                  <p className="muted">
                    Blocks {item.blocked_topics.join(", ") || "no topics"}; may {item.allowed_actions.join(", ")};
                    at most {item.max_actions_per_minute} actions a minute.
                  </p>
                  {item.deploy && <p>Waiting deploy: {item.deploy.world} / {item.deploy.server_id} ({item.deploy.step})</p>}
                  <label className="field">Note for the creator
                    <textarea rows={2} maxLength={500} value={notes[item.persona_id] ?? ""}
                      onChange={(e) => setNotes((n) => ({ ...n, [item.persona_id]: e.target.value }))} />
                  </label>
                  <div className="row">
                    <button type="button" className="primary" onClick={() => decide(item, "approve")}>Approve</button>
                    <button type="button" className="danger" onClick={() => decide(item, "reject")}>Reject</button>
                  </div>
                </article>
              </li>
            ))}
          </ul>
        )}
        {done.length > 0 && (
          <ul className="log" aria-label="Decisions" data-testid="queue-decisions">{done.map((d, i) => <li key={i}>{d}</li>)}</ul>
        )}
      </section>
    </div>
  );
}
