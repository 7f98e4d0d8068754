import solc from 'solc';
import type { Abi, Hex } from 'viem';

/**
 * The test contracts: a plain ERC-20 (the configured token), a look-alike that emits Transfer
 * events without being that token, and a contract that refuses every payment.
 */
const SOURCE = `
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

contract TestToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    mapping(address => uint256) public balanceOf;
    constructor(address holder, uint256 supply) { balanceOf[holder] = supply; emit Transfer(address(0), holder, supply); }
    function transfer(address to, uint256 value) external returns (bool) {
        require(balanceOf[msg.sender] >= value, "balance");
        balanceOf[msg.sender] -= value;
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }
}

contract LookAlikeToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    function transfer(address to, uint256 value) external returns (bool) {
        emit Transfer(msg.sender, to, value);
        return true;
    }
}

contract AlwaysReverts {
    receive() external payable { revert("no payments here"); }
    fallback() external payable { revert("no payments here"); }
}
`;

export interface Compiled {
  abi: Abi;
  bytecode: Hex;
}

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string } } }>>;
}

/** Compiles the test contracts with the solc npm package (bundled compiler: no download). */
export function compileTestContracts(): Record<'TestToken' | 'LookAlikeToken' | 'AlwaysReverts', Compiled> {
  const input = {
    language: 'Solidity',
    sources: { 'Test.sol': { content: SOURCE } },
    settings: { evmVersion: 'paris', outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const pick = (name: string): Compiled => {
    const contract = output.contracts['Test.sol']?.[name];
    if (!contract) throw new Error(`solc produced no ${name}`);
    return { abi: contract.abi, bytecode: `0x${contract.evm.bytecode.object}` };
  };
  return { TestToken: pick('TestToken'), LookAlikeToken: pick('LookAlikeToken'), AlwaysReverts: pick('AlwaysReverts') };
}
