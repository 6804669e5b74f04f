// Evaluates a batch of IAM requests with @cloud-copilot/iam-simulate (a maintained IAM policy
// evaluator: identity, resource and KMS key policies, cross-account trust, every condition
// operator), so that the run-time data-flow rehearsal (tests/rehearsal/flows.py) does not
// carry an evaluator of its own.
//
// Input on stdin: {"requests": [{"id": "...", "simulation": <Simulation>}, ...]}, where a
// Simulation is the library's own input shape (request, identityPolicies, resourcePolicy...).
// Output on stdout: {"results": [{"id", "result", "errors", "denials", "ignoredContextKeys"}]}
// with result one of Allowed, ImplicitlyDenied, ExplicitlyDenied or Error. One process
// evaluates the whole batch: starting Node once is most of the cost.
import { getDenialReasons, runSimulation } from '@cloud-copilot/iam-simulate'

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

async function evaluate({ id, simulation }) {
  // Strict mode: the request is evaluated exactly as given, unknown context keys are absent.
  const response = await runSimulation(
    {
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...simulation,
    },
    { simulationMode: 'Strict' },
  )
  if (response.resultType === 'error') {
    return { id, result: 'Error', errors: response.errors }
  }
  if (response.resultType !== 'single') {
    return { id, result: 'Error', errors: { message: `unexpected ${response.resultType} result` } }
  }
  const analysis = response.result.analysis
  return {
    id,
    result: response.overallResult,
    denials: response.overallResult === 'Allowed' ? [] : getDenialReasons(analysis),
    ignoredContextKeys: response.result.ignoredContextKeys ?? [],
  }
}

const { requests } = JSON.parse(await readStdin())
const results = []
for (const request of requests) results.push(await evaluate(request))
process.stdout.write(JSON.stringify({ results }))
