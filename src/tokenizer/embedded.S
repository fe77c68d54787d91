/* tokenizer/embedded.S — the files of assets/qwen3/ as read-only data in the binary.
   The paths come from CMake (src/CMakeLists.txt); the assembler copies the bytes. */
    .section .rodata.rotor_embedded, "a"

    .balign 16
    .global rotor_qwen3_tokenizer_zst
    .type rotor_qwen3_tokenizer_zst, @object
rotor_qwen3_tokenizer_zst:
    .incbin ROTOR_QWEN3_TOKENIZER_ZST
    .global rotor_qwen3_tokenizer_zst_end
rotor_qwen3_tokenizer_zst_end:

    .balign 16
    .global rotor_qwen3_tokenizer_config
    .type rotor_qwen3_tokenizer_config, @object
rotor_qwen3_tokenizer_config:
    .incbin ROTOR_QWEN3_TOKENIZER_CONFIG
    .global rotor_qwen3_tokenizer_config_end
rotor_qwen3_tokenizer_config_end:

    .section .note.GNU-stack, "", @progbits
