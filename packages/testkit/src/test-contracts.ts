import solc from 'solc';
import type { Abi, Hex } from 'viem';

/**
 * The test contracts: a plain ERC-20 (the configured token), a look-alike that emits Transfer
 * events without being that token, a token that blocks some senders, a contract that refuses every payment,
 * a 6-decimal stablecoin and a price feed whose answer the test sets.
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

// Pays by an internal call, as a contract wallet (Safe, ERC-4337 account) does.
contract Forwarder {
    function pay(address payable to) external payable {
        (bool ok, ) = to.call{value: msg.value}("");
        require(ok, "forward failed");
    }
    function payToken(address token, address to, uint256 value) external {
        require(TestToken(token).transfer(to, value), "token forward failed");
    }
}

// The code an EIP-7702 account delegates to: it runs a batch of calls from the account itself.
contract BatchExecutor {
    struct Call { address to; uint256 value; bytes data; }
    function execute(Call[] calldata calls) external payable {
        require(msg.sender == address(this), "only the account itself");
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, ) = calls[i].to.call{value: calls[i].value}(calls[i].data);
            require(ok, "call failed");
        }
    }
}

// An ERC-20 that refuses transfers from addresses it was told to block (as USDC's blacklist does).
contract BlockingToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    mapping(address => uint256) public balanceOf;
    mapping(address => bool) public blocked;
    constructor(address holder, uint256 supply) { balanceOf[holder] = supply; emit Transfer(address(0), holder, supply); }
    function blockSender(address account) external { blocked[account] = true; }
    function transfer(address to, uint256 value) external returns (bool) {
        require(!blocked[msg.sender], "sender blocked");
        require(balanceOf[msg.sender] >= value, "balance");
        balanceOf[msg.sender] -= value;
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }
}

// A stablecoin as USDC is: 6 decimals, a symbol (the quote reads neither: CHAINS names them).
contract TestStablecoin {
    event Transfer(address indexed from, address indexed to, uint256 value);
    string public constant symbol = "USDC";
    uint8 public constant decimals = 6;
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

// A Chainlink AggregatorV3Interface whose answer the test sets (fiat per coin, 8 decimals as Chainlink's USD feeds).
contract MockAggregator {
    uint8 public constant decimals = 8;
    uint80 private round;
    int256 private answer;
    uint256 private updatedAt;
    function setAnswer(int256 answer_, uint256 updatedAt_) external { round += 1; answer = answer_; updatedAt = updatedAt_; }
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) { return (round, answer, updatedAt, updatedAt, round); }
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
export function compileTestContracts(): Record<
  'TestToken' | 'LookAlikeToken' | 'AlwaysReverts' | 'Forwarder' | 'BatchExecutor' | 'BlockingToken' | 'TestStablecoin' | 'MockAggregator',
  Compiled
> {
  const input = {
    language: 'Solidity',
    sources: { 'Test.sol': { content: SOURCE } },
    settings: { evmVersion: 'cancun', outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const pick = (name: string): Compiled => {
    const contract = output.contracts['Test.sol']?.[name];
    if (!contract) throw new Error(`solc produced no ${name}`);
    return { abi: contract.abi, bytecode: `0x${contract.evm.bytecode.object}` };
  };
  return {
    TestToken: pick('TestToken'),
    LookAlikeToken: pick('LookAlikeToken'),
    AlwaysReverts: pick('AlwaysReverts'),
    Forwarder: pick('Forwarder'),
    BatchExecutor: pick('BatchExecutor'),
    BlockingToken: pick('BlockingToken'),
    TestStablecoin: pick('TestStablecoin'),
    MockAggregator: pick('MockAggregator'),
  };
}
