// Dashboard (admin): platform metrics and encounter analytics as SVG charts, over a range.
import { useEffect, useState } from "react";
import { api, ApiError } from "./api";
import { useFormat, useT, useTn } from "./i18n";

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
  const t = useT();
  const max = Math.max(1, ...bars.map((b) => b.value));
  const w = bars.length ? Math.min(90, (width - pad * 2) / bars.length) : 0;
  return (
    <figure className="chart" aria-label={title}>
      <figcaption>{title}</figcaption>
      {bars.length === 0 ? (
        <p className="muted">{t("dash.noData")}</p>
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

export function Dashboard({ apiKey }: { apiKey: string }) {
  const [days, setDays] = useState(7);
  const [data, setData] = useState<DashboardData | null>(null);
  const [error, setError] = useState("");
  const t = useT();
  const tn = useTn();
  const fmt = useFormat();
  const pct = fmt.percent;
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
        <h2 id="dash-title">{t("dash.title")}</h2>
        <label>
          {t("dash.range")}{" "}
          <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
            <option value={1}>{t("dash.last24h")}</option>
            {[7, 30, 90].map((n) => <option key={n} value={n}>{tn("dash.lastDays", n)}</option>)}
          </select>
        </label>
      </header>
      {error && <p className="error" role="alert">{error}</p>}
      {data && p && (
        <>
          <dl className="kpis">
            <div><dt>{t("dash.sessions")}</dt><dd data-testid="kpi-sessions">{fmt.number(data.global_stats.total_sessions)}</dd></div>
            <div><dt>{t("dash.players")}</dt><dd>{fmt.number(data.global_stats.total_players)}</dd></div>
            <div><dt>{t("dash.successRate")}</dt><dd>{data.global_stats.success_rate == null ? "–" : pct(data.global_stats.success_rate)}</dd></div>
            <div><dt>{t("dash.published")}</dt><dd>{fmt.number(Number(p.encounters_published ?? 0))}</dd></div>
          </dl>
          <div className="charts">
            <BarChart title={t("dash.completions")} format={fmt.number} bars={data.daily.map((d) => ({ label: fmt.dayMonth(d.day), value: d.completed }))} />
            <BarChart title={t("dash.successPerDay")} format={pct} bars={data.daily.filter((d) => d.success_rate != null).map((d) => ({ label: fmt.dayMonth(d.day), value: d.success_rate ?? 0 }))} />
            <BarChart title={t("dash.mostPlayed")} format={fmt.number} bars={data.encounters.map((e) => ({ label: data.titles[e.encounter_id] ?? e.encounter_id, value: e.total_plays }))} />
            {top && (
              <BarChart
                title={t("dash.funnel", { title: data.titles[top.encounter_id] ?? top.encounter_id })}
                format={fmt.number}
                bars={Object.entries(top.objective_stats).map(([id, s]) => ({ label: id, value: s.completions }))}
              />
            )}
            {top && (
              <BarChart title={t("dash.choices")} format={fmt.number} bars={Object.entries(top.choice_distribution).map(([k, v]) => ({ label: k, value: v }))} />
            )}
            <BarChart title={t("dash.retention")} format={pct} bars={[
              { label: "D1", value: Number(p.d1_retention ?? 0) },
              { label: "D7", value: Number(p.d7_retention ?? 0) },
            ]} />
            <BarChart title={t("dash.moderation")} format={fmt.number} bars={[
              { label: t("dash.all"), value: Number(p.moderation_decisions ?? 0) },
              { label: t("dash.blocked"), value: Number(p.moderation_blocked ?? 0) },
              { label: t("dash.sanitized"), value: Number(p.moderation_sanitized ?? 0) },
            ]} />
          </div>
        </>
      )}
    </section>
  );
}
