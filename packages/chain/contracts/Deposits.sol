// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// Deposit addresses: one per payment quote, derived with CREATE2 from the quote's id (the salt) and
// the sweeper's init code, which bakes in the merchant and nothing else: not the chain, not a token.
// The factory has the same address on every chain (the deterministic CREATE2 deployer), so a quote's
// address is the same on every chain and for every asset. Nothing is deployed until a sweep, and a
// sweep can only ever pay the merchant: whoever calls it, the money has one way out.

interface IERC20Balance {
    function balanceOf(address owner) external view returns (uint256);
}

/// What a sweeper asks the factory creating it: the ERC-20 this sweep moves (zero: the native coin only).
interface ISweepSource {
    function sweeping() external view returns (address);
}

/// Deployed at a deposit address only to empty it into the merchant, and deleted in the same
/// transaction (EIP-6780 lets a contract self-destruct in its creating transaction), so the address
/// can receive and be swept again later. The token it moves is read from its creator, so any ERC-20
/// sent to the address (the quoted one or another) can be flushed, and its code stays the same.
contract DepositSweeper {
    constructor(address payable merchant) {
        address token = ISweepSource(msg.sender).sweeping();
        if (token != address(0)) {
            uint256 held = IERC20Balance(token).balanceOf(address(this));
            if (held > 0) {
                // A low-level call: tokens that return nothing from transfer() (USDT) still work.
                (bool ok, bytes memory data) = token.call(abi.encodeWithSignature("transfer(address,uint256)", merchant, held));
                require(ok && (data.length == 0 || abi.decode(data, (bool))), "token transfer failed");
            }
        }
        selfdestruct(merchant);
    }
}

/// Computes deposit addresses and sweeps them. Deployed once per merchant through the deterministic
/// CREATE2 deployer, so it has the same address on every chain that has that deployer.
contract DepositFactory {
    /// What one sweep moved from a deposit address to the merchant: its native coin, and `amount` of `token` (zero: none).
    event Swept(bytes32 indexed salt, address indexed deposit, address indexed token, uint256 native, uint256 amount);

    address payable public immutable merchant;
    bytes32 public immutable sweeperCodeHash;
    /// The ERC-20 the sweep under way moves (read by each sweeper it creates); zero between sweeps.
    address public sweeping;
    bool private busy;

    constructor(address payable merchant_) {
        merchant = merchant_;
        sweeperCodeHash = keccak256(abi.encodePacked(type(DepositSweeper).creationCode, abi.encode(merchant_)));
    }

    function depositAddress(bytes32 salt) public view returns (address) {
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, sweeperCodeHash)))));
    }

    /// Empties each deposit address that holds something into the merchant: its native coin, and
    /// `token` (zero: the native coin only). Anyone may call it; the money can only go to the merchant.
    function sweep(bytes32[] calldata salts, address token) external {
        // A token's transfer could call back in and change what the sweepers after it read.
        require(!busy, "sweep under way");
        busy = true;
        sweeping = token;
        for (uint256 i = 0; i < salts.length; i++) {
            address deposit = depositAddress(salts[i]);
            uint256 native = deposit.balance;
            uint256 held = token == address(0) ? 0 : IERC20Balance(token).balanceOf(deposit);
            if (native == 0 && held == 0) continue;
            new DepositSweeper{salt: salts[i]}(merchant);
            // What left, not what was there: a token that moves less than its balance is recorded as it behaved.
            uint256 moved = token == address(0) ? 0 : held - IERC20Balance(token).balanceOf(deposit);
            emit Swept(salts[i], deposit, token, native, moved);
        }
        sweeping = address(0);
        busy = false;
    }
}
