// The deploy page: choose a persona, a world and one of its linked servers, deploy; the
// status walks idle -> queued -> spawning -> live as the daemon reports it (moderation,
// approval, token, spawn, the game's first `spawned` event), or stops at a failure with
// the reason (rejected by moderation, server offline, the game failing the spawn).
import { useEffect, useState } from "react";
import { api, ApiError } from "../../api";
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
        <h2 id="deploy-title">Deploy a persona</h2>
        <div className="row">
          <label className="field inline">Persona
            <select aria-label="Persona" value={chosen} onChange={(e) => setChosen(e.target.value)}>
              <option value="">Choose a persona…</option>
              {personas.map((r) => (
                <option key={r.persona.id} value={r.persona.id} disabled={r.status === "rejected"}>
                  {r.persona.name} ({r.status.replace("_", " ")})
                </option>
              ))}
            </select>
          </label>
          <label className="field inline">World
            <select aria-label="World" value={world} onChange={(e) => setWorld(e.target.value as World)}>
              {WORLDS.map((w) => <option key={w}>{w}</option>)}
            </select>
          </label>
          <label className="field inline">Server
            <select aria-label="Server" value={server} onChange={(e) => setServer(e.target.value)}>
              {here.length === 0 && <option value="">No {world} server has linked</option>}
              {here.map((s) => (
                <option key={s.server_id} value={s.server_id}>{s.server_id} ({s.online ? "online" : "offline"})</option>
              ))}
            </select>
          </label>
          <button type="button" className="primary" onClick={start}
            disabled={!chosen || !server || (deploy !== null && !settled)}>Deploy</button>
        </div>
        {chosenServer && !chosenServer.online && <p className="error">Server offline: {chosenServer.server_id} is not linked now.</p>}

        <ol className="deploy-steps" aria-label="Deploy status">
          {STEPS.map((s, i) => (
            <li key={s} className={state === s ? "current" : reached > i || state === "ended" ? "done" : ""}
              aria-current={state === s ? "step" : undefined}>{s}</li>
          ))}
        </ol>
        <p data-testid="deploy-state" className={`state state-${state}`}>{state}</p>
        {deploy && <p className="muted" data-testid="deploy-step">{deploy.step}</p>}
        {(error || deploy?.reason) && <p className="error" role="alert" data-testid="deploy-reason">{error || deploy?.reason}</p>}
        {deploy?.note && <p className="muted">Admin's note: {deploy.note}</p>}
        {deploy?.session_id && (deploy.state === "live" || deploy.state === "ended") && (
          <p><a href={liveViewPath(deploy.session_id)}>Open the live view</a></p>
        )}
      </section>
      <section className="panel" aria-labelledby="deploys-title">
        <h2 id="deploys-title">Your deploys</h2>
        {history.length === 0 ? <p className="muted">None yet.</p> : (
          <table className="deploys">
            <thead><tr><th>Persona</th><th>Where</th><th>State</th><th>Session</th></tr></thead>
            <tbody>
              {history.map((d) => (
                <tr key={d.id}>
                  <td>{d.persona_name}</td>
                  <td>{d.world} / {d.server_id}</td>
                  <td title={d.reason ?? d.step}>{d.state}{d.reason ? `: ${d.reason}` : ""}</td>
                  <td>{d.session_id ? <a href={liveViewPath(d.session_id)}>{d.state === "ended" ? "replay" : "live view"}</a> : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
