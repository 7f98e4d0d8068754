type Attributes = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;
type Child = Node | string | null | undefined | false;

/** Creates an element: attributes (`on*` keys become listeners, `false`/`undefined` are left out) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === 'function') element.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) element.setAttribute(name, '');
    else if (value !== false && value !== undefined) element.setAttribute(name, String(value));
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) element.append(child);
  return element;
}

/** Replaces everything inside `parent` with `children`. */
export function mount(parent: Element, ...children: Child[]): void {
  parent.replaceChildren(...children.filter((child): child is Node | string => child !== null && child !== undefined && child !== false));
}

/** A labelled progress bar whose value and text can be set. */
export interface ProgressBar {
  element: HTMLElement;
  set(percent: number, text: string): void;
}

/** A `<progress>` with a visible label, announced to screen readers as it changes. */
export function progressBar(id: string, label: string): ProgressBar {
  const bar = h('progress', { id, max: 100, value: 0 });
  const text = h('span', { class: 'progress-text', 'aria-live': 'polite' }, '');
  const element = h('div', { class: 'progress', hidden: true }, h('label', { for: id }, label), bar, text);
  return {
    element,
    set(percent, message) {
      element.hidden = false;
      bar.value = Math.max(0, Math.min(100, percent));
      text.textContent = message;
    },
  };
}
