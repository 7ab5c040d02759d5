// The encounter as JSON in Monaco, in two-way sync with the canvas: edits that parse
// replace the encounter; canvas changes replace the text (unless they are equal).
import { useEffect, useRef } from "react";
import { useT } from "./i18n";
import * as monaco from "monaco-editor/editor/editor.api";
import "monaco-editor/language/json/monaco.contribution";
import EditorWorker from "monaco-editor/editor/editor.worker?worker";
import JsonWorker from "monaco-editor/language/json/json.worker?worker";

declare global {
  interface Window {
    MonacoEnvironment?: { getWorker: (id: string, label: string) => Worker };
  }
}
window.MonacoEnvironment = {
  getWorker: (_id, label) => (label === "json" ? new JsonWorker() : new EditorWorker()),
};

export function JsonView({ value, onChange }: { value: unknown; onChange: (v: unknown) => void }) {
  const host = useRef<HTMLDivElement>(null);
  const t = useT();
  const label = t("json.label");
  const editor = useRef<monaco.editor.IStandaloneCodeEditor | null>(null);
  const latest = useRef(onChange);
  latest.current = onChange;

  useEffect(() => {
    if (!host.current) return;
    const ed = monaco.editor.create(host.current, {
      value: JSON.stringify(value, null, 2),
      language: "json",
      automaticLayout: true,
      minimap: { enabled: false },
      fontSize: 13,
      ariaLabel: label,
      tabSize: 2,
    });
    editor.current = ed;
    const sub = ed.onDidChangeModelContent(() => {
      try {
        latest.current(JSON.parse(ed.getValue()));
      } catch {
        /* not JSON yet: wait for the next keystroke */
      }
    });
    return () => {
      sub.dispose();
      ed.dispose();
      editor.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const ed = editor.current;
    if (!ed) return;
    let current: unknown = undefined;
    try {
      current = JSON.parse(ed.getValue());
    } catch {
      current = undefined;
    }
    if (JSON.stringify(current) !== JSON.stringify(value)) {
      ed.setValue(JSON.stringify(value, null, 2));
    }
  }, [value]);

  // the editor's accessible name follows the studio's language
  useEffect(() => { editor.current?.updateOptions({ ariaLabel: label }); }, [label]);

  return <div className="json-view" ref={host} data-testid="json-view" />;
}
