// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// Deposit addresses: one per payment quote, derived with CREATE2 from the quote's id (the salt) and
// the sweeper's init code, which bakes in the merchant and the token. Nothing is deployed until a
// sweep, and a sweep can only ever pay the merchant: whoever calls it, the money has one way out.

interface IERC20Balance {
    function balanceOf(address owner) external view returns (uint256);
}

/// Deployed at a deposit address only to empty it into the merchant, and deleted in the same
/// transaction (EIP-6780 lets a contract self-destruct in its creating transaction), so the address
/// can receive and be swept again later.
contract DepositSweeper {
    constructor(address payable merchant, address token) {
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

/// Computes deposit addresses and sweeps them. Deployed once per (merchant, token) through the
/// deterministic CREATE2 deployer, so it has the same address on every chain that has that deployer.
contract DepositFactory {
    /// What one sweep moved from a deposit address to the merchant.
    event Swept(bytes32 indexed salt, address indexed deposit, uint256 native, uint256 token);

    address payable public immutable merchant;
    address public immutable token;
    bytes32 public immutable sweeperCodeHash;

    constructor(address payable merchant_, address token_) {
        merchant = merchant_;
        token = token_;
        sweeperCodeHash = keccak256(abi.encodePacked(type(DepositSweeper).creationCode, abi.encode(merchant_, token_)));
    }

    function depositAddress(bytes32 salt) public view returns (address) {
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, sweeperCodeHash)))));
    }

    /// Empties each deposit address that holds something into the merchant. Anyone may call it.
    function sweep(bytes32[] calldata salts) external {
        for (uint256 i = 0; i < salts.length; i++) {
            address deposit = depositAddress(salts[i]);
            uint256 native = deposit.balance;
            uint256 held = token == address(0) ? 0 : IERC20Balance(token).balanceOf(deposit);
            if (native == 0 && held == 0) continue;
            new DepositSweeper{salt: salts[i]}(merchant, token);
            emit Swept(salts[i], deposit, native, held);
        }
    }
}
