// The persona editor: every PersonaCore field a creator writes, the daemon's persona
// screen as you type (which words or topics would be refused, and why), an avatar and
// emote picker per world, the safety settings, import and export as JSON, and submit.
import { useEffect, useRef, useState } from "react";
import { api, ApiError } from "../../api";
import { useT } from "../../i18n";
import {
  ACTIONS, describe, type Finding, newPersona, type Persona, type PersonaRecord, type Screening, TOPICS,
  type World, type WorldCatalog, WORLDS,
} from "../types";

/** A persona from JSON in either spelling (the API's camelCase or snake_case). */
export function personaFromJson(raw: unknown): Persona {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error("the file is not a JSON object");
  const r = raw as Record<string, unknown>;
  const pick = <T,>(o: Record<string, unknown> | undefined, snake: string, camel: string, fallback: T): T =>
    (o && (o[snake] ?? o[camel]) !== undefined ? (o[snake] ?? o[camel]) : fallback) as T;
  const base = newPersona();
  const safety = (r.safety ?? {}) as Record<string, unknown>;
  const embodiment = (r.embodiment ?? {}) as Record<string, unknown>;
  const voice = r.voice as Record<string, unknown> | null | undefined;
  return {
    name: pick(r, "name", "name", base.name),
    description: pick(r, "description", "description", base.description),
    traits: { ...base.traits, ...((r.traits ?? {}) as Persona["traits"]) },
    goals: pick(r, "goals", "goals", base.goals),
    memory_ref: pick(r, "memory_ref", "memoryRef", base.memory_ref),
    safety: {
      blocked_topics: pick(safety, "blocked_topics", "blockedTopics", base.safety.blocked_topics),
      max_actions_per_minute: pick(safety, "max_actions_per_minute", "maxActionsPerMinute", base.safety.max_actions_per_minute),
      allowed_actions: pick(safety, "allowed_actions", "allowedActions", base.safety.allowed_actions),
      moderation: pick(safety, "moderation", "moderation", base.safety.moderation),
      context: pick(safety, "context", "context", base.safety.context),
    },
    voice: voice ? { id: String(voice.id ?? ""), rate: Number(voice.rate ?? 1) } : null,
    embodiment: {
      avatar: pick(embodiment, "avatar", "avatar", base.embodiment.avatar),
      emotes: pick(embodiment, "emotes", "emotes", base.embodiment.emotes),
    },
  };
}

function toggle(list: string[], item: string, on: boolean): string[] {
  return on ? [...list.filter((x) => x !== item), item] : list.filter((x) => x !== item);
}

export function PersonaEditor({ apiKey, onSubmitted }: { apiKey: string; onSubmitted: (personaId: string) => void }) {
  const [persona, setPersona] = useState<Persona>(newPersona);
  const [screening, setScreening] = useState<Screening | null>(null);
  const [catalog, setCatalog] = useState<WorldCatalog[]>([]);
  const [world, setWorld] = useState<World>("web");
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const [importError, setImportError] = useState("");
  const [mine, setMine] = useState<PersonaRecord[]>([]);
  const file = useRef<HTMLInputElement>(null);
  const set = (change: (p: Persona) => Persona) => setPersona((p) => change(p));
  const t = useT();
  const statusOf = (r: PersonaRecord) => t("status.entry", { name: r.persona.name, status: t(`status.${r.status}`) });

  useEffect(() => {
    api<WorldCatalog[]>(apiKey, "GET", "/worlds/catalog").then(setCatalog).catch(() => setCatalog([]));
  }, [apiKey]);

  useEffect(() => {
    api<PersonaRecord[]>(apiKey, "GET", "/personas").then(setMine).catch(() => setMine([]));
  }, [apiKey, result]);

  // the persona screen, 300 ms after the last change; nothing is saved
  useEffect(() => {
    let current = true;
    const timer = setTimeout(() => {
      api<Screening>(apiKey, "POST", "/personas/screen", persona)
        .then((s) => current && setScreening(s))
        .catch((e: ApiError) => current && setScreening({ verdict: "invalid", errors: [e.message, ...e.errors], findings: [] }));
    }, 300);
    return () => { current = false; clearTimeout(timer); };
  }, [apiKey, persona]);

  const findingsFor = (prefix: string): Finding[] =>
    (screening?.findings ?? []).filter((f) => f.field === prefix || f.field.startsWith(`${prefix}[`) || f.field.startsWith(`${prefix}.`));
  const errorsFor = (...names: string[]): string[] =>
    (screening?.errors ?? []).filter((e) => names.some((n) => e.startsWith(n)));
  const note = (id: string, prefix: string, ...errorNames: string[]) => {
    const lines = [...findingsFor(prefix).map((f) => describe(f, t)), ...errorsFor(...errorNames)];
    return lines.length ? <span id={id} className="field-note error">{lines.join("\n")}</span> : null;
  };
  const invalid = (prefix: string, ...errorNames: string[]) =>
    findingsFor(prefix).some((f) => f.decision === "block") || errorsFor(...errorNames).length > 0;

  const worldCatalog = catalog.find((c) => c.world === world);
  const submit = async () => {
    setResult(null);
    try {
      const r = await api<{ id: string; status: string; reasons: string[] }>(apiKey, "POST", "/personas/submit", persona);
      if (r.status === "rejected") setResult({ ok: false, text: t("persona.rejected", { reasons: r.reasons.join("; ") }) });
      else {
        setResult({ ok: true, text: t("persona.submitted", { id: r.id }) });
        onSubmitted(r.id);
      }
    } catch (e) {
      const err = e as ApiError;
      setResult({ ok: false, text: t("persona.notSubmitted", { problems: [err.message, ...err.errors].join("; ") }) });
    }
  };

  const exportJson = () => {
    const blob = new Blob([JSON.stringify(persona, null, 2)], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${(persona.name || "persona").replace(/[^A-Za-z0-9_-]+/g, "_")}.persona.json`;
    a.click();
    URL.revokeObjectURL(a.href);
  };
  const importJson = async (f: File) => {
    setImportError("");
    try {
      const raw: unknown = JSON.parse(await f.text());
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error(t("persona.notObject"));
      setPersona(personaFromJson(raw));
    } catch (e) {
      setImportError(t("persona.importFailed", { file: f.name, error: (e as Error).message }));
    }
  };

  const verdict = screening?.verdict;
  return (
    <div className="flow-page persona-editor">
      <div className="toolbar" role="toolbar" aria-label={t("persona.toolbar")}>
        <button type="button" onClick={() => { setPersona(newPersona()); setResult(null); }}>{t("persona.new")}</button>
        <label>
          {t("persona.yours")}{" "}
          <select aria-label={t("persona.openMine")} value="" onChange={(e) => {
            const found = mine.find((r) => r.persona.id === e.target.value);
            if (found) { setPersona(personaFromJson(found.persona)); setResult(null); }
          }}>
            <option value="">{t("persona.openCopy")}</option>
            {mine.map((r) => (
              <option key={r.persona.id} value={r.persona.id}>{statusOf(r)}</option>
            ))}
          </select>
        </label>
        <button type="button" onClick={exportJson}>{t("persona.export")}</button>
        <label className="file-button">
          {t("persona.import")}
          <input ref={file} type="file" accept="application/json,.json" aria-label={t("persona.importLabel")}
            onChange={(e) => { const f = e.target.files?.[0]; if (f) void importJson(f); e.target.value = ""; }} />
        </label>
        {importError && <span className="error" role="alert">{importError}</span>}
        <button type="button" className="primary" onClick={submit} disabled={verdict !== "pending_moderation"}>{t("persona.submit")}</button>
        <span role="status" data-testid="submit-status" className={result?.ok ? "ok" : "error"}>{result?.text}</span>
      </div>
      <div className="flow-columns">
        <form className="panel persona-form" onSubmit={(e) => e.preventDefault()} aria-label={t("persona.fields")}>
          <h2>{t("persona.who")}</h2>
          <label className="field">{t("persona.name")}
            <input value={persona.name} aria-invalid={invalid("name", "name")} aria-describedby="note-name"
              onChange={(e) => set((p) => ({ ...p, name: e.target.value }))} maxLength={200} />
            {note("note-name", "name", "name")}
          </label>
          <label className="field">{t("persona.description")}
            <textarea rows={3} value={persona.description} aria-invalid={invalid("description", "description")} aria-describedby="note-description"
              onChange={(e) => set((p) => ({ ...p, description: e.target.value }))} maxLength={1000} />
            {note("note-description", "description", "description")}
          </label>
          <fieldset>
            <legend>{t("persona.traits")}</legend>
            {([["tone", ["curious", "serious", "playful", "mysterious"]], ["ethics", ["helper", "neutral", "trickster"]], ["risk", ["low", "medium", "high"]]] as const).map(([k, options]) => (
              <label key={k} className="field inline">{t(`trait.${k}`)}
                <select aria-label={t(`trait.${k}`)} value={persona.traits[k]} onChange={(e) => set((p) => ({ ...p, traits: { ...p.traits, [k]: e.target.value } }))}>
                  {options.map((o) => <option key={o} value={o}>{t(`trait.${o}`)}</option>)}
                </select>
              </label>
            ))}
          </fieldset>
          <fieldset>
            <legend>{t("persona.goals")}</legend>
            {persona.goals.map((g, i) => (
              <div className="row" key={i}>
                <input aria-label={t("persona.goal", { n: String(i + 1) })} value={g} maxLength={80} aria-invalid={invalid(`goals[${i}]`, `goals[${i}]`)}
                  onChange={(e) => set((p) => ({ ...p, goals: p.goals.map((x, j) => (j === i ? e.target.value : x)) }))} />
                <button type="button" aria-label={t("persona.removeGoal", { n: String(i + 1) })} onClick={() => set((p) => ({ ...p, goals: p.goals.filter((_, j) => j !== i) }))}>✕</button>
              </div>
            ))}
            {note("note-goals", "goals", "goals")}
            <button type="button" disabled={persona.goals.length >= 10} onClick={() => set((p) => ({ ...p, goals: [...p.goals, ""] }))}>{t("persona.addGoal")}</button>
          </fieldset>
          <label className="field">{t("persona.memory")}
            <input value={persona.memory_ref ?? ""} maxLength={128}
              onChange={(e) => set((p) => ({ ...p, memory_ref: e.target.value || null }))} />
            {note("note-memory", "memory_ref", "memory_ref", "memoryRef")}
          </label>
          <fieldset>
            <legend>{t("persona.voice")}</legend>
            <label className="inline"><input type="checkbox" checked={persona.voice !== null}
              onChange={(e) => set((p) => ({ ...p, voice: e.target.checked ? { id: "alloy", rate: 1 } : null }))} /> {t("persona.speaks")}</label>
            {persona.voice && (
              <>
                <label className="field inline">{t("persona.voiceId")}
                  <input value={persona.voice.id} maxLength={64} onChange={(e) => set((p) => ({ ...p, voice: { ...p.voice!, id: e.target.value } }))} />
                </label>
                <label className="field inline">{t("persona.rate")}
                  <input type="number" min={0.25} max={4} step={0.25} value={persona.voice.rate}
                    onChange={(e) => set((p) => ({ ...p, voice: { ...p.voice!, rate: Number(e.target.value) } }))} />
                </label>
                {note("note-voice", "voice", "voice")}
              </>
            )}
          </fieldset>

          <h2>{t("persona.looks")}</h2>
          <label className="field inline">{t("field.world")}
            <select aria-label={t("field.world")} value={world} onChange={(e) => setWorld(e.target.value as World)}>
              {WORLDS.map((w) => <option key={w}>{w}</option>)}
            </select>
          </label>
          <fieldset>
            <legend>{t("persona.avatar")}</legend>
            <div className="choices" role="radiogroup" aria-label={t("persona.avatarsIn", { world })}>
              {(worldCatalog?.avatars ?? []).map((a) => (
                <label key={a} className="choice"><input type="radio" name="avatar" checked={persona.embodiment.avatar === a}
                  onChange={() => set((p) => ({ ...p, embodiment: { ...p.embodiment, avatar: a } }))} /> {a}</label>
              ))}
            </div>
            <label className="field">{t("persona.avatarId")}
              <input value={persona.embodiment.avatar} maxLength={64}
                onChange={(e) => set((p) => ({ ...p, embodiment: { ...p.embodiment, avatar: e.target.value } }))} />
            </label>
            {note("note-avatar", "embodiment.avatar", "embodiment.avatar")}
          </fieldset>
          <fieldset>
            <legend>{t("persona.emotes")}</legend>
            <div className="choices" aria-label={t("persona.emotesIn", { world })} role="group">
              {Array.from(new Set([...(worldCatalog?.emotes ?? []), ...persona.embodiment.emotes])).map((m) => (
                <label key={m} className="choice"><input type="checkbox" checked={persona.embodiment.emotes.includes(m)}
                  onChange={(e) => set((p) => ({ ...p, embodiment: { ...p.embodiment, emotes: toggle(p.embodiment.emotes, m, e.target.checked) } }))} /> {m}</label>
              ))}
            </div>
            {note("note-emotes", "embodiment.emotes", "embodiment.emotes", "persona: embodiment.emotes")}
          </fieldset>

          <h2>{t("persona.safety")}</h2>
          <fieldset>
            <legend>{t("persona.blockedTopics")}</legend>
            <div className="choices">
              {TOPICS.map((topic) => (
                <label key={topic} className="choice"><input type="checkbox" checked={persona.safety.blocked_topics.includes(topic)}
                  onChange={(e) => set((p) => ({ ...p, safety: { ...p.safety, blocked_topics: toggle(p.safety.blocked_topics, topic, e.target.checked) } }))} /> {t(`topic.${topic}`)}</label>
              ))}
            </div>
          </fieldset>
          <fieldset>
            <legend>{t("persona.allowedActions")}</legend>
            <div className="choices">
              {ACTIONS.map((a) => (
                <label key={a} className="choice"><input type="checkbox" checked={persona.safety.allowed_actions.includes(a)}
                  onChange={(e) => set((p) => ({ ...p, safety: { ...p.safety, allowed_actions: toggle(p.safety.allowed_actions, a, e.target.checked) } }))} /> {a}</label>
              ))}
            </div>
            {note("note-actions", "safety.allowed_actions", "safety.allowed_actions", "safety.allowedActions")}
          </fieldset>
          <label className="field inline">{t("persona.perMinute")}
            <input type="number" min={1} max={600} value={persona.safety.max_actions_per_minute}
              aria-invalid={invalid("safety.max_actions_per_minute", "safety.max_actions_per_minute", "safety.maxActionsPerMinute")}
              onChange={(e) => set((p) => ({ ...p, safety: { ...p.safety, max_actions_per_minute: Number(e.target.value) } }))} />
          </label>
          {note("note-rate", "safety.max_actions_per_minute", "safety.max_actions_per_minute", "safety.maxActionsPerMinute")}
          <label className="field inline">{t("persona.profanity")}
            <select aria-label={t("persona.profanity")} value={persona.safety.moderation} onChange={(e) => set((p) => ({ ...p, safety: { ...p.safety, moderation: e.target.value as "sanitize" | "block" } }))}>
              <option value="sanitize">{t("persona.sanitize")}</option>
              <option value="block">{t("persona.block")}</option>
            </select>
          </label>
          <label className="field inline">{t("persona.judgeAs")}
            <select aria-label={t("persona.judgeAs")} value={persona.safety.context} onChange={(e) => set((p) => ({ ...p, safety: { ...p.safety, context: e.target.value as "game" | "general" } }))}>
              <option value="game">{t("persona.gameTalk")}</option>
              <option value="general">{t("persona.general")}</option>
            </select>
          </label>
        </form>

        <section className="panel moderation-feedback" aria-labelledby="feedback-title" aria-live="polite">
          <h2 id="feedback-title">{t("persona.feedback")}</h2>
          {!screening && <p className="muted">{t("persona.checking")}</p>}
          {verdict === "pending_moderation" && (
            <p className="ok" data-testid="screen-verdict">{t("persona.passes")}</p>
          )}
          {verdict === "rejected" && (
            <p className="error" data-testid="screen-verdict">{t("persona.wouldReject")}</p>
          )}
          {verdict === "invalid" && <p className="error" data-testid="screen-verdict">{t("persona.invalid")}</p>}
          <ul data-testid="screen-findings">
            {(screening?.errors ?? []).map((e) => <li key={e} className="error">{e}</li>)}
            {(screening?.findings ?? []).map((f) => (
              <li key={f.field} className={f.decision === "block" ? "error" : "muted"}>{describe(f, t)}</li>
            ))}
          </ul>
          <p className="muted">{t("persona.strictest")}</p>
        </section>
      </div>
    </div>
  );
}
