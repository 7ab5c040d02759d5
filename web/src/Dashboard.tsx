// Dashboard (admin): platform metrics and encounter analytics as SVG charts, over a range.
import { useEffect, useState } from "react";
import { api, ApiError } from "./api";

interface Day { day: string; started: number; completed: number; failed: number; abandoned: number; success_rate: number | null }
interface ObjectiveStats { completions: number; completion_rate: number }
interface EncounterStats {
  encounter_id: string; total_plays: number; completions: number; success_rate: number | null;
  objective_stats: Record<string, ObjectiveStats>; choice_distribution: Record<string, number>;
}
interface DashboardData {
  days: number;
  platform: Record<string, number | null | string>;
  global_stats: { total_sessions: number; total_players: number; success_rate: number | null; sessions_by_status: Record<string, number> };
  daily: Day[];
  encounters: EncounterStats[];
  titles: Record<string, string>;
}

export function BarChart({ title, bars, format = (v) => String(v) }: {
  title: string; bars: { label: string; value: number }[]; format?: (v: number) => string;
}) {
  const width = 460, height = 180, pad = 28;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const w = bars.length ? Math.min(90, (width - pad * 2) / bars.length) : 0;
  return (
    <figure className="chart" aria-label={title}>
      <figcaption>{title}</figcaption>
      {bars.length === 0 ? (
        <p className="muted">No data in this range.</p>
      ) : (
        <svg viewBox={`0 0 ${width} ${height + 40}`} role="img" aria-label={`${title}: ${bars.map((b) => `${b.label} ${format(b.value)}`).join(", ")}`}>
          <line x1={pad} y1={height} x2={width - pad} y2={height} stroke="currentColor" />
          {bars.map((b, i) => {
            const h = ((height - pad) * b.value) / max;
            const x = pad + i * w + w * 0.15;
            return (
              <g key={b.label + i}>
                <rect x={x} y={height - h} width={w * 0.7} height={h} className="bar" />
                <text x={x + w * 0.35} y={height - h - 4} textAnchor="middle" className="value">{format(b.value)}</text>
                <text x={x + w * 0.35} y={height + 14} textAnchor="middle" className="label">{b.label.length > 12 ? `${b.label.slice(0, 11)}…` : b.label}</text>
              </g>
            );
          })}
        </svg>
      )}
    </figure>
  );
}

const pct = (v: number) => `${Math.round(v * 100)}%`;

export function Dashboard({ apiKey }: { apiKey: string }) {
  const [days, setDays] = useState(7);
  const [data, setData] = useState<DashboardData | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    let live = true;
    api<DashboardData>(apiKey, "GET", `/editor/dashboard?days=${days}`)
      .then((d) => live && (setData(d), setError("")))
      .catch((e: ApiError) => live && setError(e.message));
    return () => { live = false; };
  }, [apiKey, days]);
  const p = data?.platform;
  const top = data?.encounters[0];
  return (
    <section className="dashboard" aria-labelledby="dash-title">
      <header className="row">
        <h2 id="dash-title">Dashboard</h2>
        <label>
          Time range{" "}
          <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
            <option value={1}>Last 24 hours</option>
            <option value={7}>Last 7 days</option>
            <option value={30}>Last 30 days</option>
            <option value={90}>Last 90 days</option>
          </select>
        </label>
      </header>
      {error && <p className="error" role="alert">{error}</p>}
      {data && p && (
        <>
          <dl className="kpis">
            <div><dt>Sessions</dt><dd data-testid="kpi-sessions">{data.global_stats.total_sessions}</dd></div>
            <div><dt>Players</dt><dd>{data.global_stats.total_players}</dd></div>
            <div><dt>Success rate</dt><dd>{data.global_stats.success_rate == null ? "–" : pct(data.global_stats.success_rate)}</dd></div>
            <div><dt>Encounters published</dt><dd>{String(p.encounters_published ?? 0)}</dd></div>
          </dl>
          <div className="charts">
            <BarChart title="Completions per day" bars={data.daily.map((d) => ({ label: d.day.slice(5), value: d.completed }))} />
            <BarChart title="Success rate per day" format={pct} bars={data.daily.filter((d) => d.success_rate != null).map((d) => ({ label: d.day.slice(5), value: d.success_rate ?? 0 }))} />
            <BarChart title="Most played encounters" bars={data.encounters.map((e) => ({ label: data.titles[e.encounter_id] ?? e.encounter_id, value: e.total_plays }))} />
            {top && (
              <BarChart
                title={`Objective funnel: ${data.titles[top.encounter_id] ?? top.encounter_id}`}
                bars={Object.entries(top.objective_stats).map(([id, s]) => ({ label: id, value: s.completions }))}
              />
            )}
            {top && (
              <BarChart title="Choice distribution" bars={Object.entries(top.choice_distribution).map(([k, v]) => ({ label: k, value: v }))} />
            )}
            <BarChart title="Retention" format={pct} bars={[
              { label: "D1", value: Number(p.d1_retention ?? 0) },
              { label: "D7", value: Number(p.d7_retention ?? 0) },
            ]} />
            <BarChart title="Moderation decisions" bars={[
              { label: "all", value: Number(p.moderation_decisions ?? 0) },
              { label: "blocked", value: Number(p.moderation_blocked ?? 0) },
              { label: "sanitized", value: Number(p.moderation_sanitized ?? 0) },
            ]} />
          </div>
        </>
      )}
    </section>
  );
}
