// Templates gallery: start from a template, with its parameters in a form.
import { useEffect, useState } from "react";
import { api, ApiError, type Encounter } from "./api";
import { useT } from "./i18n";

interface Param { type: string; description: string; required: boolean; default: unknown; min: number | null; max: number | null; choices: string[] }
interface Template { id: string; name: string; category: string; description: string; difficulty: string; estimated_duration: number; parameters: Record<string, Param> }

export function Templates({ apiKey, onOpen }: { apiKey: string; onOpen: (e: Encounter) => void }) {
  const [templates, setTemplates] = useState<Template[]>([]);
  const [chosen, setChosen] = useState<Template | null>(null);
  const [values, setValues] = useState<Record<string, string>>({});
  const [error, setError] = useState("");
  const t = useT();
  useEffect(() => {
    api<Template[]>(apiKey, "GET", "/editor/templates").then(setTemplates).catch((e: ApiError) => setError(e.message));
  }, [apiKey]);
  const open = async () => {
    if (!chosen) return;
    const parameters: Record<string, unknown> = {};
    for (const [name, p] of Object.entries(chosen.parameters)) {
      const v = values[name];
      if (v === undefined || v === "") continue;
      parameters[name] = p.type === "int" || p.type === "float" ? Number(v) : p.type === "bool" ? v === "true" : v;
    }
    try {
      onOpen(await api<Encounter>(apiKey, "POST", `/editor/templates/${encodeURIComponent(chosen.id)}/render`, { parameters }));
    } catch (e) {
      const err = e as ApiError;
      setError([err.message, ...err.errors].join("; "));
    }
  };
  return (
    <section className="templates" aria-labelledby="tpl-title">
      <h2 id="tpl-title">{t("templates.title")}</h2>
      {error && <p className="error" role="alert">{error}</p>}
      <ul className="gallery">
        {templates.map((tpl) => (
          <li key={tpl.id}>
            <button type="button" className={chosen?.id === tpl.id ? "card chosen" : "card"} onClick={() => { setChosen(tpl); setValues({}); setError(""); }}>
              <strong>{tpl.name}</strong>
              <span className="muted">{t("templates.minutes", { category: tpl.category, difficulty: tpl.difficulty, minutes: tpl.estimated_duration })}</span>
              <span>{tpl.description}</span>
            </button>
          </li>
        ))}
      </ul>
      {chosen && (
        <form className="node-form" aria-label={t("templates.parameters", { name: chosen.name })} onSubmit={(e) => { e.preventDefault(); void open(); }}>
          <h3>{chosen.name}</h3>
          {Object.entries(chosen.parameters).map(([name, p]) => (
            <label className="field" key={name}>
              <span>{t(p.required ? "templates.required" : "templates.optional", { name, description: p.description })}</span>
              {p.choices.length || p.type === "bool" ? (
                <select value={values[name] ?? String(p.default ?? "")} onChange={(e) => setValues({ ...values, [name]: e.target.value })}>
                  {!p.required && <option value="">{p.default == null ? t("templates.default") : t("templates.defaultIs", { value: String(p.default) })}</option>}
                  {(p.type === "bool" ? ["true", "false"] : p.choices).map((c) => <option key={c}>{c}</option>)}
                </select>
              ) : (
                <input
                  type={p.type === "int" || p.type === "float" ? "number" : "text"}
                  step={p.type === "float" ? "any" : undefined}
                  min={p.min ?? undefined}
                  max={p.max ?? undefined}
                  placeholder={p.default == null ? "" : String(p.default)}
                  required={p.required}
                  value={values[name] ?? ""}
                  onChange={(e) => setValues({ ...values, [name]: e.target.value })}
                />
              )}
            </label>
          ))}
          <button type="submit" className="primary">{t("templates.open")}</button>
        </form>
      )}
    </section>
  );
}
