// A model's answer as readable text: ``` fenced code becomes <pre><code>, blank lines split paragraphs,
// `inline code` is marked. Built with DOM nodes and textContent only: nothing is parsed as HTML.

import { h } from "./dom";

function inline(line: string): (Node | string)[] {
  return line
    .split(/(`[^`\n]+`)/)
    .map((part) =>
      part.length > 2 && part.startsWith("`") && part.endsWith("`") ? h("code", {}, part.slice(1, -1)) : part,
    );
}

export function renderText(el: HTMLElement, text: string): void {
  const out: Node[] = [];
  const blocks = text.split(/^```/m);
  blocks.forEach((block, i) => {
    if (i % 2 === 1) {
      const newline = block.indexOf("\n");
      const lang = newline > 0 ? block.slice(0, newline).trim() : "";
      const code = newline >= 0 ? block.slice(newline + 1) : block;
      out.push(h("pre", { "data-lang": lang || null }, h("code", {}, code.replace(/\n$/, ""))));
      return;
    }
    for (const para of block.split(/\n{2,}/)) {
      if (!para.trim()) continue;
      const p = h("p", {});
      para.split("\n").forEach((line, j) => {
        if (j > 0) p.append(h("br"));
        p.append(...inline(line));
      });
      out.push(p);
    }
  });
  el.replaceChildren(...out);
}
