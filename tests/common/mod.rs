pub mod kernel_cases;
pub mod tiny;
