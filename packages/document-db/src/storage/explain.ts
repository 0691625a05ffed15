// explain output in MongoDB's shape (queryPlanner.winningPlan with COLLSCAN / IXSCAN / FETCH /
// SORT / LIMIT / SKIP / PROJECTION stages, executionStats with keys and documents examined),
// so that what a learner reads about MongoDB's explain applies here.
import type { Plan } from '../core/planner.js';
import type { Doc } from '../core/values.js';
import type { ExecStats, FindOptions } from './database.js';

function planStages(plan: Plan, options: FindOptions, stats?: ExecStats): Doc {
  const filter = options.filter ?? {};
  let stage: Doc;
  if (plan.kind === 'COLLSCAN') {
    stage = {
      stage: 'COLLSCAN',
      filter,
      direction: 'forward',
      ...(stats ? { docsExamined: stats.docsExamined } : {}),
    };
  } else {
    const ixscan: Doc = {
      stage: 'IXSCAN',
      keyPattern: Object.fromEntries(plan.index.key),
      indexName: plan.index.name,
      isMultiKey: plan.index.multikey,
      isUnique: plan.index.unique,
      isSparse: plan.index.sparse,
      direction: plan.direction === 1 ? 'forward' : 'backward',
      indexBounds: Object.fromEntries(
        plan.index.key.map(([path], i) => [path, plan.bounds[i]!.map((b) => b.text)]),
      ),
      ...(stats ? { keysExamined: stats.keysExamined } : {}),
    };
    stage = {
      stage: 'FETCH',
      filter,
      ...(stats ? { docsExamined: stats.docsExamined } : {}),
      inputStage: ixscan,
    };
  }
  const sort = options.sort as Doc | undefined;
  if (sort && Object.keys(sort).length > 0 && !plan.providesSort)
    stage = { stage: 'SORT', sortPattern: sort, inputStage: stage };
  if (options.skip) stage = { stage: 'SKIP', skipAmount: options.skip, inputStage: stage };
  if (options.limit) stage = { stage: 'LIMIT', limitAmount: options.limit, inputStage: stage };
  if (options.projection && Object.keys(options.projection as Doc).length > 0)
    stage = { stage: 'PROJECTION_DEFAULT', transformBy: options.projection, inputStage: stage };
  return stage;
}

export function explainDoc(
  namespace: string,
  options: FindOptions,
  result: { plan: Plan; rejected: Plan[]; stats: ExecStats },
  verbosity: string,
): Doc {
  const out: Doc = {
    explainVersion: '1',
    queryPlanner: {
      namespace,
      parsedQuery: options.filter ?? {},
      winningPlan: planStages(result.plan, options),
      rejectedPlans: result.rejected.map((p) => planStages(p, options)),
    },
  };
  if (verbosity !== 'queryPlanner') {
    out['executionStats'] = {
      executionSuccess: true,
      nReturned: result.stats.nReturned,
      executionTimeMillis: result.stats.executionTimeMillis,
      totalKeysExamined: result.stats.keysExamined,
      totalDocsExamined: result.stats.docsExamined,
      executionStages: planStages(result.plan, options, result.stats),
    };
  }
  return out;
}
