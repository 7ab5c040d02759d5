// PreviewPanel: play the encounter against the engine in a scratch session (no real
// player's data is touched): complete objectives, make choices, talk to NPCs, finish.
import { useState } from "react";
import { api, ApiError, type Encounter, type PreviewState } from "./api";
import { useT } from "./i18n";

export function PreviewPanel({ apiKey, encounter }: { apiKey: string; encounter: Encounter }) {
  const [state, setState] = useState<PreviewState | null>(null);
  const [error, setError] = useState("");
  const t = useT();
  const [choice, setChoice] = useState({ description: "", option: "" });
  // where each NPC's branching conversation is (node id; null: ended)
  const [talk, setTalk] = useState<Record<string, string | null>>({});
  const step = async (body: Record<string, unknown>) => {
    setError("");
    try {
      const next = await api<PreviewState>(apiKey, "POST", "/editor/preview", body);
      if (body.action === "start") setTalk({});
      setState(next);
      return true;
    } catch (e) {
      const err = e as ApiError;
      setError([err.message, ...err.errors].join("\n"));
      return false;
    }
  };
  const pid = state?.previewId;
  return (
    <section className="panel preview" aria-labelledby="preview-title">
      <h2 id="preview-title">{t("panel.preview")}</h2>
      <button type="button" onClick={() => step({ action: "start", encounter })}>
        {t(state ? "preview.restart" : "preview.start")}
      </button>
      {error && <p className="error" role="alert">{error}</p>}
      {state && pid && (
        <>
          <p>
            {t("preview.status")} <strong data-testid="preview-status">{state.status}</strong>
          </p>
          <ul className="objectives">
            {state.objectives.map((o) => (
              <li key={o.id}>
                <span>
                  {o.completed ? "✔" : "○"} {o.description} ({o.progress}/{o.quantity}){o.optional ? ` · ${t("preview.optional")}` : ""}
                </span>
                {!o.completed && state.status === "active" && o.waitingFor.length > 0 && (
                  <span className="muted">{t("preview.locked", { ids: o.waitingFor.join(", ") })}</span>
                )}
                {!o.completed && state.status === "active" && o.waitingFor.length === 0 && (
                  <button type="button" onClick={() => step({ action: "objective", previewId: pid, objectiveId: o.id, completed: true })}>
                    {t("preview.complete", { what: o.description })}
                  </button>
                )}
              </li>
            ))}
          </ul>
          {state.status === "active" && (
            <>
              {encounter.npcs.map((n) => {
                const tree = n.dialogue_tree ?? [];
                if (!tree.length) {
                  return (
                    <button key={n.id} type="button" onClick={() => step({ action: "talk", previewId: pid, npcId: n.id })}>
                      {t("preview.talk", { name: n.name })}
                    </button>
                  );
                }
                const at = n.id in talk ? talk[n.id] : tree[0].id;
                const node = tree.find((x) => x.id === at);
                return (
                  <div key={n.id} className="conversation" role="group" aria-label={t("preview.conversation", { name: n.name })}>
                    {node ? (
                      <>
                        <p>
                          <strong>{n.name}:</strong> {node.text}
                        </p>
                        {(node.responses.length ? node.responses : [{ text: "Goodbye.", next: null }]).map((r, ri) => (
                          <button
                            key={ri}
                            type="button"
                            onClick={async () => {
                              const ok = await step({ action: "talk", previewId: pid, npcId: n.id, line: node.text, reply: r.text });
                              if (ok) setTalk((was) => ({ ...was, [n.id]: r.next }));
                            }}
                          >
                            {t("preview.answer", { text: r.text })}
                          </button>
                        ))}
                      </>
                    ) : (
                      <button type="button" onClick={() => setTalk((was) => ({ ...was, [n.id]: tree[0].id }))}>
                        {t("preview.talkAgain", { name: n.name })}
                      </button>
                    )}
                  </div>
                );
              })}
              {(encounter.choices ?? []).map((c) => (
                <div key={c.id} className="conversation" role="group" aria-label={t("preview.choiceGroup", { question: c.description })}>
                  <p><strong>{c.description}</strong></p>
                  {c.options.map((o) => (
                    <button
                      key={o}
                      type="button"
                      onClick={() => step({ action: "choice", previewId: pid, choiceId: c.id, description: c.description, option: o, options: c.options })}
                    >
                      {t("preview.choose", { option: o })}
                    </button>
                  ))}
                </div>
              ))}
              <form
                className="choice-form"
                onSubmit={(e) => {
                  e.preventDefault();
                  void step({ action: "choice", previewId: pid, ...choice });
                }}
              >
                <label>{t("preview.decision")} <input value={choice.description} onChange={(e) => setChoice({ ...choice, description: e.target.value })} /></label>
                <label>{t("preview.optionChosen")} <input value={choice.option} onChange={(e) => setChoice({ ...choice, option: e.target.value })} /></label>
                <button type="submit" disabled={!choice.description || !choice.option}>{t("preview.makeChoice")}</button>
              </form>
              <button type="button" disabled={!state.canComplete} onClick={() => step({ action: "finish", previewId: pid, outcome: "completed" })}>
                {t("preview.finishComplete")}
              </button>
              <button type="button" onClick={() => step({ action: "finish", previewId: pid, outcome: "failed", reason: "failed in preview" })}>
                {t("preview.finishFail")}
              </button>
            </>
          )}
          <ol className="log" aria-label={t("preview.log")}>
            {state.log.map((line, i) => (
              <li key={i}>{line}</li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}
