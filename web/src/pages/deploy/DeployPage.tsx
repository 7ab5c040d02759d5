// The deploy page: choose a persona, a world and one of its linked servers, deploy; the
// status walks idle -> queued -> spawning -> live as the daemon reports it (moderation,
// approval, token, spawn, the game's first `spawned` event), or stops at a failure with
// the reason (rejected by moderation, server offline, the game failing the spawn).
import { useEffect, useState } from "react";
import { api, ApiError } from "../../api";
import { useT } from "../../i18n";
import { type DeployView, type LinkedServer, type PersonaRecord, type World, WORLDS } from "../types";

const STEPS = ["idle", "queued", "spawning", "live"] as const;
const POLL_MS = 500;

export function liveViewPath(sessionId: string): string {
  return `/studio/session/${encodeURIComponent(sessionId)}/live`;
}

export function DeployPage({ apiKey, personaId }: { apiKey: string; personaId: string | null }) {
  const [personas, setPersonas] = useState<PersonaRecord[]>([]);
  const [servers, setServers] = useState<LinkedServer[]>([]);
  const [chosen, setChosen] = useState(personaId ?? "");
  const [world, setWorld] = useState<World>("web");
  const [server, setServer] = useState("");
  const [deploy, setDeploy] = useState<DeployView | null>(null);
  const [error, setError] = useState("");
  const [history, setHistory] = useState<DeployView[]>([]);
  const t = useT();
  const stateName = (s: string) => (["idle", "queued", "spawning", "live", "ended", "failed"].includes(s) ? t(`state.${s}`) : s);

  useEffect(() => {
    api<PersonaRecord[]>(apiKey, "GET", "/personas").then((found) => {
      setPersonas(found);
      setChosen((c) => c || found.find((r) => r.status !== "rejected")?.persona.id || "");
    }).catch(() => setPersonas([]));
  }, [apiKey, deploy?.state]);

  // the daemon's live links, refreshed while the page is open
  useEffect(() => {
    const load = () => api<LinkedServer[]>(apiKey, "GET", "/worlds/servers").then(setServers).catch(() => setServers([]));
    void load();
    const timer = setInterval(load, 2000);
    return () => clearInterval(timer);
  }, [apiKey]);

  const here = servers.filter((s) => s.world === world);
  useEffect(() => {
    if (!here.some((s) => s.server_id === server)) setServer(here.find((s) => s.online)?.server_id ?? here[0]?.server_id ?? "");
  }, [world, servers]);

  // follow the deploy until it settles
  const settled = deploy && ["live", "ended", "failed"].includes(deploy.state);
  useEffect(() => {
    if (!deploy || settled) return;
    const timer = setInterval(() => {
      api<DeployView>(apiKey, "GET", `/deploys/${deploy.id}`).then(setDeploy).catch((e: ApiError) => setError(e.message));
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [apiKey, deploy?.id, settled]);

  useEffect(() => {
    api<DeployView[]>(apiKey, "GET", "/deploys").then((d) => setHistory(d.reverse())).catch(() => setHistory([]));
  }, [apiKey, deploy?.state]);

  const start = async () => {
    setError("");
    setDeploy(null);
    try {
      setDeploy(await api<DeployView>(apiKey, "POST", "/deploys", { personaId: chosen, world, serverId: server }));
    } catch (e) {
      const err = e as ApiError;
      setError([err.message, ...err.errors].join("; "));
    }
  };

  const state = error ? "failed" : deploy?.state ?? "idle";
  const reached = STEPS.indexOf(state as (typeof STEPS)[number]);
  const chosenServer = here.find((s) => s.server_id === server);
  return (
    <div className="flow-page deploy-page">
      <section className="panel" aria-labelledby="deploy-title">
        <h2 id="deploy-title">{t("deploy.title")}</h2>
        <div className="row">
          <label className="field inline">{t("field.persona")}
            <select aria-label={t("field.persona")} value={chosen} onChange={(e) => setChosen(e.target.value)}>
              <option value="">{t("deploy.choose")}</option>
              {personas.map((r) => (
                <option key={r.persona.id} value={r.persona.id} disabled={r.status === "rejected"}>
                  {t("status.entry", { name: r.persona.name, status: t(`status.${r.status}`) })}
                </option>
              ))}
            </select>
          </label>
          <label className="field inline">{t("field.world")}
            <select aria-label={t("field.world")} value={world} onChange={(e) => setWorld(e.target.value as World)}>
              {WORLDS.map((w) => <option key={w}>{w}</option>)}
            </select>
          </label>
          <label className="field inline">{t("deploy.server")}
            <select aria-label={t("deploy.server")} value={server} onChange={(e) => setServer(e.target.value)}>
              {here.length === 0 && <option value="">{t("deploy.noServer", { world })}</option>}
              {here.map((s) => (
                <option key={s.server_id} value={s.server_id}>{t(s.online ? "deploy.serverOnline" : "deploy.serverOffline", { server: s.server_id })}</option>
              ))}
            </select>
          </label>
          <button type="button" className="primary" onClick={start}
            disabled={!chosen || !server || (deploy !== null && !settled)}>{t("deploy.deploy")}</button>
        </div>
        {chosenServer && !chosenServer.online && <p className="error">{t("deploy.offline", { server: chosenServer.server_id })}</p>}

        <ol className="deploy-steps" aria-label={t("deploy.status")}>
          {STEPS.map((s, i) => (
            <li key={s} className={state === s ? "current" : reached > i || state === "ended" ? "done" : ""}
              aria-current={state === s ? "step" : undefined}>{stateName(s)}</li>
          ))}
        </ol>
        <p data-testid="deploy-state" data-state={state} className={`state state-${state}`}>{stateName(state)}</p>
        {deploy && <p className="muted" data-testid="deploy-step">{deploy.step}</p>}
        {(error || deploy?.reason) && <p className="error" role="alert" data-testid="deploy-reason">{error || deploy?.reason}</p>}
        {deploy?.note && <p className="muted">{t("deploy.note", { note: deploy.note })}</p>}
        {deploy?.session_id && (deploy.state === "live" || deploy.state === "ended") && (
          <p><a href={liveViewPath(deploy.session_id)}>{t("deploy.openLive")}</a></p>
        )}
      </section>
      <section className="panel" aria-labelledby="deploys-title">
        <h2 id="deploys-title">{t("deploy.yours")}</h2>
        {history.length === 0 ? <p className="muted">{t("deploy.none")}</p> : (
          <table className="deploys">
            <thead><tr><th>{t("field.persona")}</th><th>{t("deploy.where")}</th><th>{t("deploy.state")}</th><th>{t("deploy.session")}</th></tr></thead>
            <tbody>
              {history.map((d) => (
                <tr key={d.id}>
                  <td>{d.persona_name}</td>
                  <td>{d.world} / {d.server_id}</td>
                  <td title={d.reason ?? d.step}>{d.reason ? t("state.withReason", { state: stateName(d.state), reason: d.reason }) : stateName(d.state)}</td>
                  <td>{d.session_id ? <a href={liveViewPath(d.session_id)}>{t(d.state === "ended" ? "deploy.replay" : "deploy.liveView")}</a> : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
