pub mod kernel_cases;
