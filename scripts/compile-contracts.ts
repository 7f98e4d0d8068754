/**
 * Compiles packages/chain/contracts/Deposits.sol with the solc npm package (a bundled compiler: no
 * download) and writes the artifacts the chain package uses. They are committed on purpose: every
 * deposit address derives from the sweeper's exact bytecode, so a compiler or setting change must
 * be a visible change (packages/chain/test/deposits.test.ts fails when they are stale).
 * Usage: node --import tsx scripts/compile-contracts.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';

const chainDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages', 'chain');
export const SOURCE_PATH = join(chainDir, 'contracts', 'Deposits.sol');
export const ARTIFACTS_PATH = join(chainDir, 'src', 'deposit-artifacts.json');

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
}

/** The artifacts as JSON text, exactly as they are committed. */
export function compileDepositContracts(): string {
  const input = {
    language: 'Solidity',
    sources: { 'Deposits.sol': { content: readFileSync(SOURCE_PATH, 'utf8') } },
    // cancun: the chain must run EIP-6780 (self-destruct only in the creating transaction) for sweeps to leave addresses reusable.
    settings: { evmVersion: 'cancun', optimizer: { enabled: true, runs: 200 }, outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const pick = (name: string) => {
    const contract = output.contracts['Deposits.sol']?.[name];
    if (!contract) throw new Error(`solc produced no ${name}`);
    return { abi: contract.abi, bytecode: `0x${contract.evm.bytecode.object}` };
  };
  const artifacts = { compiler: `solc ${solc.version()}`, DepositFactory: pick('DepositFactory'), DepositSweeper: pick('DepositSweeper') };
  return `${JSON.stringify(artifacts, null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const fresh = compileDepositContracts();
  if (process.argv.includes('--check')) {
    const same = readFileSync(ARTIFACTS_PATH, 'utf8') === fresh;
    console.log(same ? 'deposit artifacts are up to date' : 'deposit artifacts are stale: run scripts/compile-contracts.ts');
    process.exit(same ? 0 : 1);
  }
  writeFileSync(ARTIFACTS_PATH, fresh);
  console.log(`wrote ${ARTIFACTS_PATH}`);
}
