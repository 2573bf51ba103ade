// fpsim tour / fpsim explain <topic>: the lessons of teach/lessons.ts, run live.
import type { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { LESSONS, findLesson, runLesson, type LessonOutcome } from '../../teach/lessons.ts';
import { InputError } from '../../sim/scenario/load.ts';
import { bold, cyan, dim, green, red, yellow } from '../narrate.ts';

function wrap(text: string, width = 92): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}

function show(o: LessonOutcome, answers: boolean): boolean {
  const l = o.lesson;
  console.log(bold(`\n== ${l.title} ==`) + dim(`  (fpsim explain ${l.id})`));
  for (const p of l.intro) console.log(`\n${wrap(p).join('\n')}`);
  l.runs.forEach((run, i) => {
    const r = o.runs[i]!;
    console.log(`\n${cyan(`-- ${run.label}`)}`);
    for (const s of r.steps) {
      if (s.phase === 'setup') continue;
      // teardown is shown only where it breaks something
      const shown = s.rec.effects.filter((e) => (s.phase === 'run' && run.focus.test(e.text)) || e.text.startsWith('VIOLATION'));
      if (!shown.length) continue;
      console.log(`${dim(`[${String(s.rec.step).padStart(3)}]`)} ${s.rec.task.padEnd(16)} ${dim(s.rec.where[0] ?? '')}`);
      for (const e of shown) console.log(`        ${e.text.startsWith('VIOLATION') ? red(e.text) : e.text}`);
    }
  });
  console.log();
  let ok = true;
  for (const c of o.claims) {
    ok &&= c.holds;
    console.log(`${c.holds ? green('shown:') : red('NOT SHOWN:')} ${c.text}`);
  }
  console.log(`\n${yellow('Question:')} ${wrap(l.question).join('\n          ')}`);
  if (answers) console.log(`${green('Answer:')} ${wrap(l.answer).join('\n        ')}`);
  return ok;
}

function lessonJson(o: LessonOutcome, answers: boolean) {
  const l = o.lesson;
  return {
    id: l.id,
    title: l.title,
    passed: o.claims.every((c) => c.holds),
    claims: o.claims,
    violations: o.runs.map((r) => ({ run: r.name, kinds: [...new Set(r.violations.map((v) => v.kind))] })),
    question: l.question,
    ...(answers ? { answer: l.answer } : {}),
  };
}

export function register(program: Command) {
  program
    .command('tour')
    .description('a guided tour of the patch: every lesson, run live in the model')
    .option('--all', 'run every lesson without pausing (also the behaviour without a terminal)')
    .option('--answers', 'show the answers to the questions')
    .option('--json', 'run every lesson and print [{"id", "title", "claims": [{"text", "holds"}], "question", "answer"?}]')
    .action(async (o: { all?: boolean; answers?: boolean; json?: boolean }) => {
      if (o.json) {
        const out = LESSONS.map((l) => lessonJson(runLesson(l), !!o.answers));
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        process.exitCode = out.every((l) => l.passed) ? 0 : 1;
        return;
      }
      const interactive = !o.all && process.stdin.isTTY;
      const rl = interactive ? createInterface({ input: process.stdin, output: process.stdout }) : null;
      let ok = true;
      for (const [i, l] of LESSONS.entries()) {
        ok = show(runLesson(l), !!o.answers) && ok;
        if (rl && i < LESSONS.length - 1) await rl.question(dim('\n[Enter] for the next lesson '));
      }
      rl?.close();
      if (!o.answers) console.log(dim('\n(run with --answers to see the answers)'));
      process.exitCode = ok ? 0 : 1;
    });
  program
    .command('explain')
    .description(`one lesson: ${LESSONS.map((l) => l.id).join(', ')}`)
    .argument('<topic>', 'a lesson id or alias')
    .option('--answers', 'show the answer to the question')
    .option('--json', 'print {"id", "title", "claims": [{"text", "holds"}], "question", "answer"?}')
    .action((topic: string, o: { answers?: boolean; json?: boolean }) => {
      const l = findLesson(topic);
      if (!l) throw new InputError(`explain: no lesson "${topic}" (topics: ${LESSONS.map((x) => [x.id, ...x.aliases].join('/')).join(', ')})`);
      if (o.json) {
        const out = lessonJson(runLesson(l), !!o.answers);
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        process.exitCode = out.passed ? 0 : 1;
        return;
      }
      process.exitCode = show(runLesson(l), !!o.answers) ? 0 : 1;
    });
}
