// The course's teaching settings (GET/PATCH /courses/{id}/teaching-settings): the answer mode of
// the course and of each material, switched at run time (the next turn uses it), and whether
// insights name students. "As declared" clears a switch, back to course.yaml.
import { t } from '../i18n.js';
import { el, failure } from './common.js';

const $ = (id) => document.getElementById(id);
const MODES = ['direct', 'guided'];

function modeSelect(value, defaultLabel, testid) {
  const select = el('select', { dataset: { testid } }, el('option', { value: '', text: defaultLabel }), ...MODES.map((m) => el('option', { value: m, text: t(`mode_${m}`) })));
  select.value = value ?? '';
  return select;
}

export function settingsSection(ctx) {
  let current = null;
  const path = () => `/courses/${encodeURIComponent(ctx.courseId())}/teaching-settings`;

  async function change(body) {
    try {
      current = await ctx.call('PATCH', path(), body);
      render();
      ctx.say(t('saved'));
    } catch (error) {
      ctx.say(failure(error, 'saveFailed'));
    }
  }

  function declaredLabel(declared) {
    return declared ? t('asDeclared', { mode: t(`mode_${declared}`) }) : t('asCourse');
  }

  function render() {
    const s = current;
    const course = $('course-mode');
    const fresh = modeSelect(s.answer_mode.override, declaredLabel(s.answer_mode.declared ?? 'direct'), 'course-mode');
    fresh.id = 'course-mode';
    fresh.addEventListener('change', () => change({ answer_mode: fresh.value || null }));
    course.replaceWith(fresh);
    $('course-mode-effective').textContent = t('effectiveMode', { mode: t(`mode_${s.answer_mode.effective}`) });
    const own = new Map(s.materials.map((m) => [m.material_id, m]));
    const materials = (ctx.course()?.materials ?? []).map((m) => ({ id: m.material_id, title: m.title || m.material_id }));
    for (const id of own.keys()) if (!materials.some((m) => m.id === id)) materials.push({ id, title: id });
    $('material-modes').replaceChildren(
      ...materials.map((m) => {
        const mode = own.get(m.id);
        const select = modeSelect(mode?.override, declaredLabel(mode?.declared), 'material-mode');
        const id = `mode-${m.id}`;
        select.id = id;
        select.dataset.materialId = m.id;
        select.addEventListener('change', () => change({ material_modes: { [m.id]: select.value || null } }));
        const effective = mode?.effective ?? s.answer_mode.effective;
        return el('li', { class: 'mode-row', dataset: { testid: 'material-mode-row' } }, el('label', { for: id, text: m.title }), select, el('span', { class: 'muted small', text: t('effectiveMode', { mode: t(`mode_${effective}`) }) }));
      }),
    );
    $('show-students').checked = s.show_student_ids;
  }

  $('show-students').addEventListener('change', (event) => change({ show_student_ids: event.target.checked }));

  return {
    async load() {
      current = await ctx.call('GET', path());
      render();
    },
    rerender() {
      if (current) render();
    },
  };
}
