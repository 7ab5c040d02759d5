// The studio: sign-in, the editor (canvas, forms, JSON, validation, preview, publish),
// the templates gallery, the marketplace, the persona editor, deploys, the live view of a
// session (/studio/session/{id}/live), and for admins the moderation queue and the dashboard.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, ApiError, type Encounter, type Issue, newEncounter } from "./api";
import { EncounterCanvas, type Kind, type Layout, nodeForPath, Palette } from "./Canvas";
import { Dashboard } from "./Dashboard";
import { DeployPage, LiveView, liveSessionOf, ModerationQueue, PersonaEditor } from "./pages";
import { connect, type Drawn, moveObjective, removeEdge } from "./edges";
import { NodeForm } from "./Forms";
import { JsonView } from "./JsonView";
import { Marketplace } from "./Marketplace";
import { PreviewPanel } from "./Preview";
import { Templates } from "./Templates";
import { LanguagePicker, useT } from "./i18n";

const KEY = "ae-studio-key";

export function App() {
  const t = useT();
  const [apiKey, setApiKey] = useState<string | null>(() => sessionStorage.getItem(KEY));
  const [role, setRole] = useState<"admin" | "creator" | null>(null);
  const [tab, setTab] = useState<"editor" | "templates" | "market" | "dashboard" | "persona" | "deploy" | "queue">("editor");
  const [submittedPersona, setSubmittedPersona] = useState<string | null>(null);
  const [liveSession, setLiveSession] = useState(() => liveSessionOf(window.location.pathname));
  const open = (next: typeof tab) => {
    if (liveSession !== null) { window.history.pushState(null, "", "/studio/"); setLiveSession(null); }
    setTab(next);
  };
  const [loaded, setLoaded] = useState<{ encounter: Encounter; layout: Layout } | null>(null);

  useEffect(() => {
    if (!apiKey) return;
    api(apiKey, "GET", "/editor/dashboard?days=1")
      .then(() => setRole("admin"))
      .catch((e: ApiError) => {
        if (e.status === 401) signOut();
        else setRole("creator");
      });
  }, [apiKey]);

  const signOut = () => {
    sessionStorage.removeItem(KEY);
    setApiKey(null);
    setRole(null);
  };

  if (!apiKey) return <SignIn onSignedIn={(k) => { sessionStorage.setItem(KEY, k); setApiKey(k); }} />;
  return (
    <div className="app">
      <header className="top">
        <h1>{t("app.title")}</h1>
        <nav aria-label={t("nav.label")}>
          <button type="button" aria-current={liveSession === null && tab === "editor"} onClick={() => open("editor")}>{t("nav.editor")}</button>
          <button type="button" aria-current={liveSession === null && tab === "templates"} onClick={() => open("templates")}>{t("nav.templates")}</button>
          <button type="button" aria-current={liveSession === null && tab === "market"} onClick={() => open("market")}>{t("nav.market")}</button>
          <button type="button" aria-current={liveSession === null && tab === "persona"} onClick={() => open("persona")}>{t("nav.personas")}</button>
          <button type="button" aria-current={liveSession === null && tab === "deploy"} onClick={() => open("deploy")}>{t("nav.deploy")}</button>
          {role === "admin" && (
            <button type="button" aria-current={liveSession === null && tab === "queue"} onClick={() => open("queue")}>{t("nav.queue")}</button>
          )}
          {role === "admin" && (
            <button type="button" aria-current={liveSession === null && tab === "dashboard"} onClick={() => open("dashboard")}>{t("nav.dashboard")}</button>
          )}
        </nav>
        <span className="muted">{role ? t("header.signedIn", { role: t(`role.${role}`) }) : t("header.signingIn")}</span>
        <LanguagePicker />
        <button type="button" onClick={signOut}>{t("header.signOut")}</button>
      </header>
      <main>
        {liveSession !== null ? <LiveView apiKey={apiKey} sessionId={liveSession} /> : <>
        {tab === "editor" && <Editor apiKey={apiKey} loaded={loaded} />}
        {tab === "persona" && <PersonaEditor apiKey={apiKey} onSubmitted={setSubmittedPersona} />}
        {tab === "deploy" && <DeployPage apiKey={apiKey} personaId={submittedPersona} />}
        {tab === "queue" && role === "admin" && <ModerationQueue apiKey={apiKey} />}
        {tab === "templates" && (
          <Templates apiKey={apiKey} onOpen={(encounter) => { setLoaded({ encounter, layout: {} }); setTab("editor"); }} />
        )}
        {tab === "market" && <Marketplace apiKey={apiKey} isAdmin={role === "admin"} />}
        {tab === "dashboard" && role === "admin" && <Dashboard apiKey={apiKey} />}
        </>}
      </main>
    </div>
  );
}

function SignIn({ onSignedIn }: { onSignedIn: (key: string) => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const t = useT();
  return (
    <main className="sign-in">
      <LanguagePicker />
      <h1>{t("app.title")}</h1>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError("");
          try {
            await api(key.trim(), "GET", "/editor/templates");
            onSignedIn(key.trim());
          } catch (err) {
            const e2 = err as ApiError;
            setError(e2.status === 401 ? t("signin.refused") : e2.message);
          } finally {
            setBusy(false);
          }
        }}
      >
        <label htmlFor="api-key">{t("signin.key")}</label>
        <input id="api-key" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} required />
        <button type="submit" disabled={busy || !key.trim()}>{t("signin.submit")}</button>
        {error && <p className="error" role="alert">{error}</p>}
        <p className="muted">{t("signin.note")}</p>
      </form>
    </main>
  );
}

// One undo step: the encounter, and the canvas layout. A step that moved nodes to other
// ids (reordering objectives) is `moved`: undoing or redoing it restores its layout too;
// other steps leave the layout as the user arranged it since.
interface Step { encounter: Encounter; layout: Layout; moved: boolean }
interface History { past: Step[]; present: Step; future: Step[] }
const start = (encounter: Encounter, layout: Layout = {}): History => ({
  past: [], present: { encounter, layout, moved: false }, future: [],
});

function newObjectiveId(e: Encounter): string {
  let n = e.objectives.length + 1;
  while (e.objectives.some((o) => o.id === `obj_${n}`)) n++;
  return `obj_${n}`;
}
function newNpcId(e: Encounter): string {
  let n = e.npcs.length + 1;
  while (e.npcs.some((o) => o.id === `npc_${n}`)) n++;
  return `npc_${n}`;
}

function Editor({ apiKey, loaded }: { apiKey: string; loaded: { encounter: Encounter; layout: Layout } | null }) {
  const [history, setHistory] = useState<History>(() => start(loaded?.encounter ?? newEncounter(), loaded?.layout));
  const [selected, setSelected] = useState<string | null>(null);
  const [issues, setIssues] = useState<Issue[]>([]);
  const [isDirty, setDirty] = useState(false);
  const [status, setStatus] = useState("");
  const [note, setNote] = useState(""); // what the last canvas edit did (or why not)
  const [published, setPublished] = useState("");
  const [view, setView] = useState<"form" | "json" | "preview">("form");
  const [drafts, setDrafts] = useState<{ id: string; title: string; encounter: Encounter; layout: Layout }[]>([]);
  const focusField = useRef<string | null>(null);
  const encounter = history.present.encounter;
  const layout = history.present.layout;
  // node positions change without an undo step
  const setLayout = (l: Layout) => setHistory((h) => ({ ...h, present: { ...h.present, layout: l } }));
  const draftId = /^[A-Za-z0-9_.:-]+$/.test(encounter.id) ? encounter.id : "untitled";
  const t = useT();

  useEffect(() => {
    if (loaded) setHistory(start(loaded.encounter, loaded.layout));
  }, [loaded]);

  const update = useCallback((change: (e: Encounter) => Encounter, relayout?: (l: Layout) => Layout) => {
    setHistory((h) => {
      const next = change(h.present.encounter);
      if (!relayout && JSON.stringify(next) === JSON.stringify(h.present.encounter)) return h;
      const layout = relayout ? relayout(h.present.layout) : h.present.layout;
      return { past: [...h.past.slice(-99), h.present], present: { encounter: next, layout, moved: !!relayout }, future: [] };
    });
    setDirty(true);
  }, []);
  const undo = useCallback(() => setHistory((h) => {
    if (!h.past.length) return h;
    const back = h.past[h.past.length - 1];
    const present = { ...back, layout: h.present.moved ? back.layout : h.present.layout };
    return { past: h.past.slice(0, -1), present, future: [h.present, ...h.future] };
  }), []);
  const redo = useCallback(() => setHistory((h) => {
    if (!h.future.length) return h;
    const next = h.future[0];
    const present = { ...next, layout: next.moved ? next.layout : h.present.layout };
    return { past: [...h.past, h.present], present, future: h.future.slice(1) };
  }), []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t.closest(".json-view") || t.tagName === "INPUT" || t.tagName === "TEXTAREA") return;
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { e.preventDefault(); if (e.shiftKey) redo(); else undo(); }
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "y") { e.preventDefault(); redo(); }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [undo, redo]);

  // real-time validation by the server's validator
  useEffect(() => {
    const timer = setTimeout(() => {
      api<{ valid: boolean; errors: Issue[] }>(apiKey, "POST", "/editor/validate", { encounter })
        .then((r) => setIssues(r.errors))
        .catch((e: ApiError) => setIssues([{ path: "", message: e.message }]));
    }, 300);
    return () => clearTimeout(timer);
  }, [apiKey, encounter]);

  // autosave of the draft (isDirty -> saved)
  useEffect(() => {
    if (!isDirty) return;
    const timer = setTimeout(() => {
      const id = draftId;
      api(apiKey, "PUT", `/editor/drafts/${encodeURIComponent(id)}`, { id, title: encounter.title.slice(0, 200), encounter, layout })
        .then(() => { setDirty(false); setStatus(t("app.draftSaved")); })
        .catch((e: ApiError) => setStatus(t("app.draftNotSaved", { error: e.message })));
    }, 1000);
    return () => clearTimeout(timer);
  }, [apiKey, encounter, layout, isDirty, draftId]);

  useEffect(() => {
    api<typeof drafts>(apiKey, "GET", "/editor/drafts").then(setDrafts).catch(() => setDrafts([]));
  }, [apiKey, status]);

  useEffect(() => {
    if (view === "form" && focusField.current) {
      const el = document.getElementById(`field-${focusField.current}`);
      focusField.current = null;
      el?.focus();
    }
  });

  const add = (kind: Kind, position?: { x: number; y: number }) => {
    const e = encounter;
    let nodeId = "";
    let next: Encounter = e;
    if (kind === "objective") {
      nodeId = `objective:${e.objectives.length}`;
      next = { ...e, objectives: [...e.objectives, { id: newObjectiveId(e), description: "", kind: "reach", target: "the old mill", quantity: 1, optional: false }] };
    } else if (kind === "npc") {
      nodeId = `npc:${e.npcs.length}`;
      next = { ...e, npcs: [...e.npcs, { id: newNpcId(e), name: "New character", role: "guide", personality_traits: [], dialogue: [] }] };
    } else if (kind === "choice") {
      const choices = e.choices ?? [];
      let n = choices.length + 1;
      while (choices.some((c) => c.id === `choice_${n}`)) n++;
      nodeId = `choice:${choices.length}`;
      next = { ...e, choices: [...choices, { id: `choice_${n}`, description: "What do you do?", options: ["Help", "Walk away"] }] };
    } else if (kind === "reward") {
      nodeId = `reward:${e.rewards.length}`;
      next = { ...e, rewards: [...e.rewards, { kind: "experience", amount: 100 }] };
    } else if (kind === "branch") {
      const from = selected && /^(npc|line|tree):/.test(selected) ? selected.split(":") : null;
      const i = from ? Number(from[1]) : e.npcs.length - 1;
      const npc = e.npcs[i];
      if (!npc) {
        setStatus(t("app.npcFirstBranch"));
        return;
      }
      const tree = npc.dialogue_tree ?? [];
      let n = tree.length + 1;
      while (tree.some((t) => t.id === `${npc.id}_${n}`)) n++;
      const id = `${npc.id}_${n}`;
      const parent = from && from[0] === "tree" ? Number(from[2]) : tree.length - 1;
      const linked = tree.map((t, k) =>
        k === parent ? { ...t, responses: [...t.responses, { text: "Tell me more.", next: id }] } : t,
      );
      nodeId = `tree:${i}:${tree.length}`;
      const node = { id, text: tree.length ? "There is more to it." : "Well met, traveller. What brings you here?", responses: [] };
      next = { ...e, npcs: e.npcs.map((x, j) => (j === i ? { ...x, dialogue_tree: [...linked, node] } : x)) };
    } else {
      const sel = selected?.startsWith("npc:") || selected?.startsWith("line:") ? Number(selected.split(":")[1]) : e.npcs.length - 1;
      if (sel < 0 || !e.npcs[sel]) {
        setStatus(t("app.npcFirstLine"));
        return;
      }
      nodeId = `line:${sel}:${e.npcs[sel].dialogue.length}`;
      next = { ...e, npcs: e.npcs.map((n, i) => (i === sel ? { ...n, dialogue: [...n.dialogue, "Hello, traveller."] } : n)) };
    }
    update(() => next, position ? (l) => ({ ...l, [nodeId]: position }) : undefined);
    setSelected(nodeId);
    setView("form");
  };

  const draw = (c: Drawn) => {
    const r = connect(encounter, layout, c);
    if ("error" in r) { setNote(t(r.error.key, r.error.vars)); return; }
    update(() => r.encounter, () => r.layout);
    setSelected(r.select);
    setView("form");
    setNote(t(r.message.key, r.message.vars));
  };
  const deleteEdge = (id: string) => {
    const r = removeEdge(encounter, id);
    if ("error" in r) { setNote(t(r.error.key, r.error.vars)); return; }
    update(() => r.encounter);
    setNote(t(r.message.key, r.message.vars));
  };
  const reorder = (from: number, to: number) => {
    if (to < 0 || to >= encounter.objectives.length) return;
    const r = moveObjective(encounter, layout, from, to);
    update(() => r.encounter, () => r.layout);
    setSelected(`objective:${to}`);
  };
  const deleteDraft = async () => {
    const d = drafts.find((x) => x.id === draftId);
    if (!d) return;
    if (!window.confirm(t("app.confirmDelete", { title: d.title || d.id }))) {
      setStatus(t("app.draftKept", { id: d.id }));
      return;
    }
    setDirty(false);
    try {
      await api(apiKey, "DELETE", `/editor/drafts/${encodeURIComponent(d.id)}`);
      setStatus(t("app.draftDeleted", { id: d.id }));
    } catch (e) {
      setStatus(t("app.draftNotDeleted", { error: (e as ApiError).message }));
    }
  };

  const issueNodes = useMemo(() => new Set(issues.map((i) => nodeForPath(i.path).node)), [issues]);

  const publish = async () => {
    setPublished("");
    try {
      const r = await api<{ id: string }>(apiKey, "POST", "/editor/publish", { encounter });
      setPublished(t("app.published", { id: r.id }));
    } catch (e) {
      const err = e as ApiError;
      setPublished(t("app.notPublished", { problems: [err.message, ...err.errors].join("; ") }));
    }
  };

  return (
    <div className="editor">
      <div className="toolbar" role="toolbar" aria-label={t("editor.toolbar")}>
        <button type="button" onClick={undo} disabled={!history.past.length} title="Ctrl+Z">{t("editor.undo")}</button>
        <button type="button" onClick={redo} disabled={!history.future.length} title="Ctrl+Y">{t("editor.redo")}</button>
        <button type="button" onClick={() => { setHistory(start(newEncounter())); setSelected(null); }}>{t("editor.new")}</button>
        <label>
          {t("editor.drafts")}{" "}
          <select value="" onChange={(e) => {
            const d = drafts.find((x) => x.id === e.target.value);
            if (d) { setHistory(start(d.encounter, d.layout ?? {})); setSelected(null); }
          }}>
            <option value="">{t("editor.openDraft")}</option>
            {drafts.map((d) => <option key={d.id} value={d.id}>{d.title || d.id}</option>)}
          </select>
        </label>
        <button type="button" className="danger" onClick={deleteDraft} disabled={!drafts.some((d) => d.id === draftId)}>
          Delete draft
        </button>
        <span className="muted" aria-live="polite">{isDirty ? t("editor.unsaved") : status}</span>
        <button type="button" className="primary" onClick={publish} disabled={issues.length > 0}>{t("editor.publish")}</button>
        <span role="status" data-testid="publish-status">{published}</span>
      </div>
      <Palette onAdd={(k) => add(k)} />
      <p className="muted canvas-note" role="status" data-testid="canvas-note">{note}</p>
      <div className="workspace">
        <EncounterCanvas
          encounter={encounter}
          layout={layout}
          selected={selected}
          errorNodes={issueNodes}
          onSelect={(id) => { setSelected(id); if (id) setView("form"); }}
          onMove={(l) => { setLayout(l); setDirty(true); }}
          onDropKind={(k, p) => add(k, p)}
          onConnect={draw}
          onDeleteEdge={deleteEdge}
        />
        <aside className="side">
          <div role="tablist" aria-label={t("panel.side")} className="tabs">
            {(["form", "json", "preview"] as const).map((v) => (
              <button key={v} role="tab" type="button" aria-selected={view === v} onClick={() => setView(v)}>
                {t(`panel.${({ form: "properties", json: "json", preview: "preview" } as const)[v]}`)}
              </button>
            ))}
          </div>
          {view === "form" && <NodeForm node={selected ?? "encounter"} encounter={encounter} update={update} onDeleted={() => setSelected(null)} onReorder={reorder} />}
          {view === "json" && <JsonView value={encounter} onChange={(v) => update(() => v as Encounter)} />}
          {view === "preview" && <PreviewPanel apiKey={apiKey} encounter={encounter} />}
          <section className="panel validation" aria-labelledby="validation-title">
            <h2 id="validation-title">{t("panel.validation")}</h2>
            {issues.length === 0 ? (
              <p className="ok" data-testid="valid">{t("panel.valid")}</p>
            ) : (
              <ul data-testid="validation-errors">
                {issues.map((i, n) => (
                  <li key={n}>
                    <button type="button" className="issue" onClick={() => {
                      const target = nodeForPath(i.path);
                      setSelected(target.node);
                      focusField.current = target.field;
                      setView("form");
                    }}>
                      {i.path ? `${i.path}: ${i.message}` : i.message}
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </section>
        </aside>
      </div>
    </div>
  );
}
