/** A hall's ready checklist from its link test, as the dashboard shows it. */
export interface ChecklistView {
  items: { item: string; label: string; ok: boolean }[];
  ready: boolean;
  at: number;
}

/** The checklist as a list of ✓/✗ lines under a verdict. */
export function checklistElement(view: ChecklistView, time: string): HTMLElement {
  const box = document.createElement('div');
  box.className = `checklist ${view.ready ? 'ready' : 'not-ready'}`;
  const verdict = document.createElement('p');
  verdict.className = 'verdict';
  verdict.textContent = `${view.ready ? 'Sẵn sàng' : 'Chưa sẵn sàng'} — kiểm tra lúc ${time}`;
  const list = document.createElement('ul');
  for (const item of view.items) {
    const li = document.createElement('li');
    li.className = item.ok ? 'ok' : 'fail';
    li.dataset.item = item.item;
    const mark = document.createElement('span');
    mark.className = 'mark';
    mark.textContent = item.ok ? '✓' : '✗';
    li.append(mark, ` ${item.label}`);
    list.append(li);
  }
  box.append(verdict, list);
  return box;
}
